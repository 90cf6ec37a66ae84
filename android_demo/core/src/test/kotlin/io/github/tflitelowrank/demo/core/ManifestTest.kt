package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

class ManifestTest {
    private val text = File(Fixtures.assetsFixture(), "manifest.json").readText()

    @Test
    fun parsesTheFixtureManifest() {
        val manifest = Manifest.parse(text)
        assertEquals(1, manifest.formatVersion)
        assertEquals(TextCleaner.VERSION, manifest.tokenizer)
        assertEquals(listOf("baseline", "compressed"), manifest.models.keys.toList())
        assertEquals("baseline.tflite", manifest.baseline.file)
        assertNull(manifest.baseline.rank)
        assertEquals(TensorSpec("token_ids", "int32", listOf(1, manifest.seqLen)), manifest.compressed.input)
        assertEquals("float32", manifest.compressed.output.dtype)
        assertEquals(listOf(1, manifest.numLabels), manifest.compressed.output.shape)
        assertEquals(Manifest.DATA_FILES, manifest.files.keys.toList())
        assertEquals(6, manifest.checkedFiles.size)
        assertTrue(manifest.checkedFiles.all { it.sha256.length == 64 })
    }

    /** Replaces the first occurrence of [old] in the fixture manifest text. */
    private fun edited(old: String, new: String): String {
        assertTrue("fixture manifest lacks <$old>", text.contains(old))
        return text.replaceFirst(old, new)
    }

    private fun invalid(json: String): String =
        assertThrows(AssetException.InvalidManifest::class.java) { Manifest.parse(json) }.message!!

    @Test
    fun rejectsInvalidJsonAndWrongShapes() {
        assertTrue(invalid("{").contains("not valid JSON"))
        assertTrue(invalid("[]").contains("`manifest` must be an object"))
        assertTrue(invalid(edited("\"seq_len\":", "\"seq_length\":")).contains("`manifest.seq_len` is missing"))
        assertTrue(invalid(edited("\"num_labels\": 2", "\"num_labels\": \"2\"")).contains("`manifest.num_labels` must be an integer"))
        assertTrue(invalid(edited("\"num_labels\": 2", "\"num_labels\": 0")).contains("must be a positive integer, found 0"))
        assertTrue(invalid(edited("\"compressed\": {", "\"small\": {")).contains("`manifest.models.compressed` is missing"))
        assertTrue(invalid(edited("\"sha256\": \"", "\"sha256\": \"XYZ")).contains("64 lower-case hex digits"))
        assertTrue(invalid(edited("\"file\": \"baseline.tflite\"", "\"file\": \"../baseline.tflite\"")).contains("plain `.tflite` file name"))
        assertTrue(invalid(edited("\"file\": \"compressed.tflite\"", "\"file\": \"baseline.tflite\"")).contains("two different model files"))
        assertTrue(invalid(edited("\"golden.jsonl\": {", "\"gold.jsonl\": {")).contains("`manifest.files.golden.jsonl` is missing"))
        assertTrue(invalid(edited("\"rank\": 2", "\"rank\": 0")).contains("`manifest.models.compressed.rank` must be a positive integer"))
    }

    @Test
    fun rejectsOtherContractOrTokenizerVersions() {
        val format = assertThrows(AssetException.UnsupportedVersion::class.java) {
            Manifest.parse(edited("\"format_version\": 1", "\"format_version\": 2"))
        }
        assertEquals("format_version", format.field)
        assertTrue(format.message!!.contains("supports \"1\""))
        val tokenizer = assertThrows(AssetException.UnsupportedVersion::class.java) {
            Manifest.parse(edited(TextCleaner.VERSION, "tflite_lowrank-clean-v0"))
        }
        assertEquals("tflite_lowrank-clean-v0", tokenizer.found)
        assertTrue(tokenizer.message!!, tokenizer.message!!.contains("keras-text-vectorization-v1"))
    }

    @Test
    fun refusesAssetsOfTheVersion1RulesNamingBothVersions() {
        // v1 kept ASCII letters only; its golden token ids differ from ours for any other letter.
        val error = assertThrows(AssetException.UnsupportedVersion::class.java) {
            Manifest.parse(edited(TextCleaner.VERSION, "tflite_lowrank-clean-v1"))
        }
        assertEquals("tflite_lowrank-clean-v2", TextCleaner.VERSION)
        assertTrue(error.message!!, error.message!!.contains("\"tflite_lowrank-clean-v1\" but this app supports \"tflite_lowrank-clean-v2\""))
    }

    @Test
    fun acceptsTheTextVectorizationTokenizer() {
        val manifest = Manifest.parse(edited(TextCleaner.VERSION, TextVectorizationTokens.VERSION))
        assertEquals(TextVectorizationTokens.VERSION, manifest.tokenizer)
    }

    @Test
    fun optionalFieldsMayBeNull() {
        val manifest = Manifest.parse(edited("\"created_by\": \"", "\"created_by\": null, \"unused\": \""))
        assertNull(manifest.createdBy)
    }
}
