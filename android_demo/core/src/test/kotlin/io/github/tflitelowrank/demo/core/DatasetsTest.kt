package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

class TestSetReaderTest {
    private val labels = Labels(listOf("negative", "positive"))

    @Test
    fun splitsOnTheFirstTabOnly() {
        val examples = TestSetReader.parse("positive\tgood\tfun\nnegative\t\n", labels)
        assertEquals(listOf(LabelledExample(1, "good\tfun"), LabelledExample(0, "")), examples)
    }

    @Test
    fun reportsTheOneBasedLineOfAProblem() {
        val noTab = assertThrows(AssetException.InvalidDataFile::class.java) {
            TestSetReader.parse("positive\tok\nnegative bad\n", labels)
        }
        assertEquals(2, noTab.line)
        assertTrue(noTab.message!!.startsWith("test_set.tsv line 2: expected `label<TAB>text`"))
        val empty = assertThrows(AssetException.InvalidDataFile::class.java) { TestSetReader.parse("", labels) }
        assertEquals(0, empty.line)
        val blank = assertThrows(AssetException.InvalidDataFile::class.java) {
            TestSetReader.parse("positive\tok\n\nnegative\tbad\n", labels)
        }
        assertEquals(2, blank.line)
    }

    @Test
    fun encodesWithTheTokenizer() {
        val tokenizer = Tokenizer(Vocabulary.of(listOf("<pad>", "<unk>", "good")), 3)
        val encoded = TestSetReader.encode(listOf(LabelledExample(1, "Good, good")), tokenizer)
        assertEquals(1, encoded.single().label)
        assertArrayEquals(intArrayOf(2, 1, 2), encoded.single().tokenIds)
    }
}

class GoldenReaderTest {
    private val dir = Fixtures.assetsFixture()
    private val manifest = Manifest.parse(File(dir, "manifest.json").readText())

    @Test
    fun fixtureGoldenTokenIdsAreReproducedByTheKotlinTokenizer() {
        val tokenizer = Tokenizer(Vocabulary.parse(File(dir, "vocab.txt").readText()), manifest.seqLen)
        val golden = GoldenReader.parse(File(dir, "golden.jsonl").readText(), manifest)
        assertTrue(golden.isNotEmpty())
        for (example in golden) {
            assertEquals(example.text, example.tokenIds, tokenizer.encode(example.text).toList())
            for (key in Manifest.MODEL_KEYS) {
                val probabilities = example.probabilities.getValue(key)
                assertEquals(manifest.numLabels, probabilities.size)
                assertEquals("probabilities sum to 1", 1.0, probabilities.sum(), 1e-4)
            }
        }
    }

    /**
     * When the developer has exported real assets into the app (git-ignored), their golden
     * file must also be reproduced by the Kotlin tokenizer. Skipped silently when absent.
     */
    @Test
    fun exportedAppAssetsGoldenTokenIdsAreReproducedIfPresent() {
        val assets = File(Fixtures.repoRoot(), "android_demo/app/src/main/assets")
        if (!File(assets, "manifest.json").isFile) return
        val bundle = AssetBundle.load(DirectoryAssetSource(assets))
        for (example in bundle.golden) {
            assertEquals(example.text, example.tokenIds, bundle.tokenizer.encode(example.text).toList())
        }
    }

    @Test
    fun rejectsBadLinesWithTheirNumber() {
        val good = File(dir, "golden.jsonl").readText().lineSequence().first()
        val cases = listOf(
            "{not json" to "not valid JSON",
            good.replace("\"label\": ", "\"label\": 7") to "class index below 2",
            good.replace("\"compressed\": [", "\"compressed\": [0.1, ") to "num_labels=2 values, found 3",
            good.replace("\"text\": ", "\"txt\": ") to "`line.text` is missing",
        )
        for ((line, expected) in cases) {
            val error = assertThrows(AssetException.InvalidDataFile::class.java) {
                GoldenReader.parse(good + "\n" + line + "\n", manifest)
            }
            assertEquals(2, error.line)
            assertTrue("${error.message} lacks <$expected>", error.message!!.contains(expected))
        }
    }
}
