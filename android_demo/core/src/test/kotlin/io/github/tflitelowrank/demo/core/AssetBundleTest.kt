package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/** The bad-asset cases the app must explain on screen, on a copy of the committed fixture. */
class AssetBundleTest {
    private val dir: File = Fixtures.copyOfAssetsFixture()
    private val source = DirectoryAssetSource(dir)

    private inline fun <reified T : AssetException> failure(): T =
        assertThrows(T::class.java) { AssetBundle.load(source) }

    /** Rewrites manifest.json (which is not itself checksummed). */
    private fun editManifest(old: String, new: String) {
        val file = File(dir, "manifest.json")
        val text = file.readText()
        assertTrue("manifest lacks <$old>", text.contains(old))
        file.writeText(text.replaceFirst(old, new))
    }

    /** Rewrites a data file and records its new size and sha256 in the manifest. */
    private fun rewriteConsistently(name: String, content: String) {
        val file = File(dir, name)
        val old = AssetFiles.digest(source, name)
        file.writeText(content)
        val new = AssetFiles.digest(source, name)
        editManifest(entry(old), entry(new))
    }

    /** The text of a data file's entry in manifest.json (indent=2, as the exporter writes). */
    private fun entry(digest: FileDigest) =
        "\"sha256\": \"${digest.sha256}\",\n      \"size_bytes\": ${digest.sizeBytes}\n"

    @Test
    fun loadsTheValidFixture() {
        val bundle = AssetBundle.load(source)
        assertEquals(bundle.manifest.vocabSize, bundle.vocabulary.size)
        assertEquals(bundle.manifest.numLabels, bundle.labels.size)
        assertEquals(bundle.manifest.seqLen, bundle.tokenizer.seqLen)
        assertTrue(bundle.testSet.isNotEmpty())
        assertTrue(bundle.golden.isNotEmpty())
    }

    @Test
    fun missingManifestSaysToExport() {
        File(dir, "manifest.json").delete()
        val error = failure<AssetException.MissingFile>()
        assertEquals("manifest.json", error.file)
        assertTrue(error.message!!.contains("is missing from the assets folder"))
        assertTrue(error.message!!.contains("tflite-lowrank export-android RUN_DIR android_demo/app/src/main/assets"))
    }

    @Test
    fun missingModelIsNamed() {
        File(dir, "compressed.tflite").delete()
        assertEquals("compressed.tflite", failure<AssetException.MissingFile>().file)
    }

    @Test
    fun missingDataFileIsNamed() {
        File(dir, "test_set.tsv").delete()
        assertEquals("test_set.tsv", failure<AssetException.MissingFile>().file)
    }

    @Test
    fun changedModelBytesFailTheChecksum() {
        val file = File(dir, "baseline.tflite")
        val bytes = file.readBytes()
        bytes[bytes.size / 2] = (bytes[bytes.size / 2].toInt() xor 0x01).toByte()
        file.writeBytes(bytes)
        val error = failure<AssetException.ChecksumMismatch>()
        assertEquals("baseline.tflite", error.file)
        assertEquals(AssetFiles.sha256Hex(bytes), error.actual)
        assertTrue(error.message!!.contains("does not match manifest.json"))
    }

    @Test
    fun truncatedFileFailsTheSizeCheck() {
        val file = File(dir, "vocab.txt")
        file.writeBytes(file.readBytes().let { it.copyOf(it.size - 3) }) // bytes: the last tokens are not ASCII
        val error = failure<AssetException.SizeMismatch>()
        assertEquals("vocab.txt", error.file)
        assertEquals(error.expected - 3, error.actual)
    }

    @Test
    fun checksumsCanBeSkippedButNotSizes() {
        val file = File(dir, "baseline.tflite")
        file.writeBytes(file.readBytes().also { it[0] = (it[0].toInt() xor 0x20).toByte() }) // same length
        AssetBundle.load(source, verifyChecksums = false)
        failure<AssetException.ChecksumMismatch>()
    }

    @Test
    fun vocabularyOfAnotherSizeThanTheManifestIsAMismatch() {
        rewriteConsistently("vocab.txt", File(dir, "vocab.txt").readText() + "extra\n")
        val error = failure<AssetException.VocabularyMismatch>()
        assertEquals("vocab.txt", error.what)
        assertEquals(error.expected + 1, error.actual)
    }

    @Test
    fun modelEmbeddingOfAnotherSizeIsAMismatch() {
        val vocabSize = Manifest.parse(File(dir, "manifest.json").readText()).vocabSize
        editManifest("\"vocab_size\": $vocabSize,\n      \"input\"", "\"vocab_size\": ${vocabSize + 7},\n      \"input\"")
        val error = failure<AssetException.VocabularyMismatch>()
        assertTrue(error.message!!, error.message!!.contains("embedding table of `baseline.tflite`"))
        assertEquals(vocabSize + 7, error.actual)
    }

    @Test
    fun textVectorizationAssetsTokenizeLikeKeras() {
        val vocab = File(dir, "vocab.txt").readText().replaceFirst("<pad>\n<unk>\n", "\n[UNK]\n")
        rewriteConsistently("vocab.txt", vocab)
        editManifest("\"tokenizer\": \"${TextCleaner.VERSION}\"", "\"tokenizer\": \"${TextVectorizationTokens.VERSION}\"")
        val bundle = AssetBundle.load(source)
        assertEquals("", bundle.vocabulary.tokens[0])
        assertEquals(TokenizerMode.TEXT_VECTORIZATION, bundle.tokenizer.mode)
        assertEquals(Vocabulary.UNK_ID, bundle.tokenizer.encode("zzyzx-qwv")[0])
    }

    @Test
    fun invalidVocabularyIsReported() {
        rewriteConsistently("vocab.txt", File(dir, "vocab.txt").readText().replaceFirst("<unk>", "<oov>"))
        failure<AssetException.InvalidVocabulary>()
    }

    @Test
    fun labelCountOtherThanNumLabelsIsAMismatch() {
        rewriteConsistently("labels.txt", "negative\nneutral\npositive\n")
        val error = failure<AssetException.LabelMismatch>()
        assertTrue(error.message!!.contains("3 labels but the models output num_labels=2"))
    }

    @Test
    fun wrongDeclaredInputShapeIsAShapeMismatch() {
        val seqLen = Manifest.parse(File(dir, "manifest.json").readText()).seqLen
        editManifest("\"shape\": [\n          1,\n          $seqLen\n        ]", "\"shape\": [\n          $seqLen\n        ]")
        val error = failure<AssetException.ModelShapeMismatch>()
        assertEquals("baseline.tflite", error.model)
        assertEquals("int32 [1, $seqLen]", error.expected)
        assertEquals("int32 [$seqLen]", error.actual)
    }

    @Test
    fun wrongDeclaredOutputDtypeIsAShapeMismatch() {
        editManifest("\"dtype\": \"float32\"", "\"dtype\": \"int8\"")
        val error = failure<AssetException.ModelShapeMismatch>()
        assertTrue(error.message!!.contains("is int8 [1, 2] but the app needs float32 [1, 2]"))
    }

    @Test
    fun testSetWithUnknownLabelNamesTheLine() {
        rewriteConsistently("test_set.tsv", "positive\tgood\nmaybe\tso so\n")
        val error = failure<AssetException.InvalidDataFile>()
        assertEquals(2, error.line)
        assertTrue(error.message!!.contains("label `maybe` is not in labels.txt"))
    }

    @Test
    fun goldenWithWrongLengthIsReported() {
        rewriteConsistently("golden.jsonl", """{"text": "x", "label": 0, "token_ids": [1], "probabilities": {"baseline": [0.5, 0.5], "compressed": [0.5, 0.5]}}""" + "\n")
        val error = failure<AssetException.InvalidDataFile>()
        assertEquals("golden.jsonl", error.file)
        assertTrue(error.message!!.contains("must have seq_len="))
    }

    @Test
    fun nonUtf8TextIsReported() {
        val file = File(dir, "labels.txt")
        val old = AssetFiles.digest(source, "labels.txt")
        file.writeBytes(byteArrayOf(0x6E, 0xC3.toByte(), 0x28, 0x0A, 0x70, 0x0A))
        val new = AssetFiles.digest(source, "labels.txt")
        editManifest(entry(old), entry(new))
        val message = failure<AssetException.InvalidDataFile>().message!!
        assertTrue(message, message.contains("labels.txt line 1: the file is not valid UTF-8 at byte offset 1 (0xC3)"))
    }

    @Test
    fun nonUtf8TestSetNamesTheFileLineAndByte() {
        val old = AssetFiles.digest(source, "test_set.tsv")
        // "café" saved as Latin-1: the é is the single byte 0xE9 at offset 26, on line 2.
        File(dir, "test_set.tsv").writeBytes("positive\tgood\nnegative\tcaf".toByteArray() + byteArrayOf(0xE9.toByte(), 0x0A))
        editManifest(entry(old), entry(AssetFiles.digest(source, "test_set.tsv")))
        val message = failure<AssetException.InvalidDataFile>().message!!
        assertTrue(message, message.startsWith("test_set.tsv line 2: the file is not valid UTF-8 at byte offset 26 (0xE9)"))
    }

    @Test
    fun everyErrorHasATitleAndAFix() {
        File(dir, "golden.jsonl").delete()
        val error = failure<AssetException>()
        assertTrue(error.title.isNotBlank())
        assertTrue(error.message!!.contains(AssetException.EXPORT_HINT))
    }
}

class AssetFilesTest {
    @Test
    fun sha256MatchesKnownVectors() {
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", AssetFiles.sha256Hex(ByteArray(0)))
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", AssetFiles.sha256Hex("abc".toByteArray()))
    }

    @Test
    fun digestStreamsLargeFiles() {
        val dir = kotlin.io.path.createTempDirectory("digest").toFile()
        val bytes = ByteArray(300_000) { (it * 31).toByte() }
        File(dir, "big.bin").writeBytes(bytes)
        val digest = AssetFiles.digest(DirectoryAssetSource(dir), "big.bin")
        assertEquals(FileDigest(300_000L, AssetFiles.sha256Hex(bytes)), digest)
        File(dir, "big.bin").delete()
        dir.delete()
    }
}
