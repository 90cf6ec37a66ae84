package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

class MarkdownReportTest {
    private fun model(key: String, size: Long, hits: Int, p50: Double, load: Double, memory: Long?) = ModelBenchmark(
        key = key,
        fileSizeBytes = size,
        loadMillis = load,
        firstInferenceMillis = 0.25,
        latency = LatencyStats(count = 5060, meanMillis = p50 * 1.1, p50Millis = p50, p90Millis = p50 * 2, minMillis = p50 / 2, maxMillis = 1.5),
        passP50Millis = listOf(p50, p50, p50, p50),
        timing = TimingSource.NATIVE_INVOKE,
        memoryDeltaBytes = memory,
        accuracy = Ratio(hits, 1265),
        predictions = emptyList(),
    )

    private val report = BenchmarkReport(
        models = listOf(
            model("baseline", 646_952, 761, 0.0033, 1.0, 3_145_728),
            model("compressed", 24_256, 751, 0.0035, 9.5, null),
        ),
        agreement = mapOf("compressed" to Ratio(1066, 1265)),
        numExamples = 1265,
        config = BenchmarkConfig(warmupRuns = 20, passes = 4),
        order = interleavedOrder(2, 4).map { pass -> pass.map { listOf("baseline", "compressed")[it] } },
    )

    private val manifest = Manifest.parse(File(Fixtures.assetsFixture(), "manifest.json").readText())

    @Test
    fun compareTableHasTheColumnsAndDigitsOfTfliteLowrankCompare() {
        // The rows are what Comparison.to_markdown() prints for the same values (checked in Python).
        assertEquals(
            listOf(
                "| model | size (KB) | size ratio | accuracy | Δ accuracy | p50 latency (ms) | latency ratio | agreement | load (ms) | model memory (MB) |",
                "|---|---|---|---|---|---|---|---|---|---|",
                "| baseline.tflite (reference) | 631.8 | 1.000 | 60.16% | +0.00 pt | 0.0033 | 1.00 | 100.00% | 1.0 | 3.0 |",
                "| compressed.tflite | 23.7 | 0.037 | 59.37% | -0.79 pt | 0.0035 | 1.06 | 84.27% | 9.5 | n/a |",
            ).joinToString("\n"),
            MarkdownReport.compareTable(report, manifest),
        )
    }

    @Test
    fun theHeaderIsTheOneInThePythonPackage() {
        // Comparison.to_markdown() builds its header from adjacent string literals.
        val header = Regex("\"(\\| model \\| size \\(KB\\)[^\"]*)\"((?:\\s*\"[^\"]*\")*)")
        val sources = File(Fixtures.repoRoot(), "tflite_lowrank").walkTopDown().filter { it.name.endsWith(".py") }
        val match = sources.firstNotNullOfOrNull { header.find(it.readText()) }
            ?: throw AssertionError("no `| model | size (KB)` header found under tflite_lowrank/")
        val rest = Regex("\"([^\"]*)\"").findAll(match.groupValues[2]).joinToString("") { it.groupValues[1] }
        assertEquals(match.groupValues[1] + rest, MarkdownReport.COMPARE_HEADER)
    }

    @Test
    fun rendersDeviceScheduleTimingAndBothTables() {
        val device = DeviceInfo("Google", "Pixel 7", "panther", "14", 34, listOf("arm64-v8a"), 8, "1.4.1", null, 1, true)
        val text = MarkdownReport.render(report, manifest, device, measuredAt = "2025-06-01T12:00:00Z")
        val lines = text.lines()
        assertEquals("## On-device benchmark: baseline vs compressed", lines[0])
        assertTrue(lines.contains("| Device | Google Pixel 7 (panther) |"))
        assertTrue(lines.contains("| OS | Android 14 (API 34) |"))
        assertTrue(lines.contains("| ABI | arm64-v8a |"))
        assertTrue(lines.contains("| Runtime | LiteRT 1.4.1 |"))
        assertTrue(lines.contains("| Threads | 1 interpreter thread, XNNPACK on, 8 CPU cores |"))
        assertTrue(
            lines.contains(
                "| Test set | 1265 sentences, 4 passes, order alternating (baseline → compressed, then " +
                    "compressed → baseline), 20 warm-up runs per model |",
            ),
        )
        assertTrue(lines.any { it.startsWith("| Latency | native invoke() only (LiteRT getLastNativeInferenceDurationNanoseconds)") })
        assertTrue(lines.contains("| Measured | 2025-06-01T12:00:00Z |"))
        assertTrue(text.contains(MarkdownReport.compareTable(report, manifest)))
        assertTrue(
            lines.contains("| compressed.tflite | 0.0035 | 0.007 | 0.00385 | 0.00175 | 1.5 | 0.0035 / 0.0035 / 0.0035 / 0.0035 | 0.25 | 5060 |"),
        )
        assertTrue(text.endsWith("\n"))
    }

    @Test
    fun escapesPipesAndWorksWithoutManifestOrDevice() {
        val text = MarkdownReport.render(report)
        assertTrue(text.contains("| baseline (reference) | 631.8 |"))
        assertTrue(!text.contains("| Device |"))
        val odd = DeviceInfo("A|B", "X", null, "7.0", 24, listOf("armeabi-v7a"), 4, "1.4.1", "2.19", 1, true)
        assertTrue(MarkdownReport.render(report, device = odd).contains("| Device | A\\|B X |"))
        val single = report.copy(order = listOf(listOf("baseline", "compressed")))
        assertEquals("1 pass (baseline → compressed)", MarkdownReport.describeSchedule(single))
    }
}
