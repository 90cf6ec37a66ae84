package io.github.tflitelowrank.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import io.github.tflitelowrank.demo.core.AssetBundle
import io.github.tflitelowrank.demo.core.BenchmarkConfig
import io.github.tflitelowrank.demo.core.BenchmarkRunner
import io.github.tflitelowrank.demo.core.GoldenCheck
import io.github.tflitelowrank.demo.core.Manifest
import io.github.tflitelowrank.demo.core.MarkdownReport
import io.github.tflitelowrank.demo.core.ModelUnderTest
import io.github.tflitelowrank.demo.core.TestSetReader
import io.github.tflitelowrank.demo.core.TimingSource
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith

/**
 * On a device or emulator, with the exported assets in app/src/main/assets:
 * LiteRT on the phone must reproduce the probabilities that Python's LiteRT wrote into
 * golden.jsonl within [GoldenCheck.DEVICE_ATOL], and the Kotlin tokenizer must reproduce
 * Python's token ids exactly.
 *
 *   ./gradlew :app:connectedDebugAndroidTest
 */
@RunWith(AndroidJUnit4::class)
class GoldenOutputsTest {
    private val context = InstrumentationRegistry.getInstrumentation().targetContext
    private val bundle: AssetBundle by lazy { AssetBundle.load(AndroidAssetSource(context.assets)) }

    private fun loadBoth() = Manifest.MODEL_KEYS.map { key ->
        LiteRtClassifier.load(context.assets, bundle.manifest.models.getValue(key), bundle.manifest)
    }

    @Test
    fun assetsPassEveryContractCheck() {
        assertEquals(bundle.manifest.vocabSize, bundle.vocabulary.size)
        assertEquals(bundle.manifest.numLabels, bundle.labels.size)
        assertTrue("golden.jsonl is empty", bundle.golden.isNotEmpty())
    }

    @Test
    fun tokenizerReproducesPythonTokenIds() {
        for (example in bundle.golden) {
            assertEquals(example.text, example.tokenIds, bundle.tokenizer.encode(example.text).toList())
        }
    }

    @Test
    fun litertOnTheDeviceReproducesPythonProbabilities() {
        val classifiers = loadBoth()
        try {
            val mismatches = GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, GoldenCheck.DEVICE_ATOL)
            assertTrue(
                "${mismatches.size} golden mismatches (atol ${GoldenCheck.DEVICE_ATOL}):\n" +
                    mismatches.take(20).joinToString("\n"),
                mismatches.isEmpty(),
            )
        } finally {
            classifiers.forEach { it.close() }
        }
    }

    @Test
    fun benchmarkRunsOnAShortTestSet() {
        val encoded = TestSetReader.encode(bundle.testSet, bundle.tokenizer)
        val models = Manifest.MODEL_KEYS.map { key ->
            val entry = bundle.manifest.models.getValue(key)
            ModelUnderTest(key, entry.sizeBytes) { LiteRtClassifier.load(context.assets, entry, bundle.manifest) }
        }
        val config = BenchmarkConfig(warmupRuns = 5, passes = 2, maxExamples = 50)
        val report = BenchmarkRunner(config, memory = PssMemoryProbe).run(models, encoded, bundle.manifest.numLabels)
        assertEquals(2, report.models.size)
        assertEquals(listOf(Manifest.MODEL_KEYS, Manifest.MODEL_KEYS.reversed()), report.order)
        for (model in report.models) {
            assertTrue("${model.key} latency", model.latency.p50Millis > 0.0)
            assertTrue("${model.key} p90 >= p50", model.latency.p90Millis >= model.latency.p50Millis)
            assertTrue("${model.key} load", model.loadMillis > 0.0)
            assertEquals("${model.key} is timed by LiteRT's native clock", TimingSource.NATIVE_INVOKE, model.timing)
            assertEquals(2, model.passP50Millis.size)
        }
        assertEquals(report.numExamples, report.agreement.getValue(Manifest.COMPRESSED).total)
        val markdown = MarkdownReport.render(report, bundle.manifest, AndroidDevice.info())
        assertTrue(markdown, markdown.contains("| baseline.tflite (reference) |"))
        assertTrue(markdown, markdown.contains(android.os.Build.MODEL))
    }

    @Test
    fun classifierReportsTheNativeInferenceTime() {
        val classifiers = loadBoth()
        try {
            val ids = bundle.tokenizer.encode(bundle.golden.first().text)
            for (classifier in classifiers) {
                classifier.classify(ids)
                val nanos = classifier.lastInferenceNanos
                assertNotNull("${classifier.key}: no native inference time", nanos)
                assertTrue("${classifier.key}: $nanos ns", nanos!! > 0)
            }
        } finally {
            classifiers.forEach { it.close() }
        }
        assertNotNull("LiteRT runtime version", LiteRtClassifier.runtimeVersion())
    }
}
