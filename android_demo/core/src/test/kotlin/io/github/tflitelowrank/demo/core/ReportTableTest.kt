package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Test
import java.io.File

class ReportTableTest {
    private fun model(key: String, size: Long, memory: Long?, accuracy: Ratio) = ModelBenchmark(
        key = key,
        fileSizeBytes = size,
        loadMillis = 12.345,
        firstInferenceMillis = 2.5,
        latency = LatencyStats(count = 10, meanMillis = 0.61, p50Millis = 0.5, p90Millis = 1.234, minMillis = 0.4, maxMillis = 3.0),
        passP50Millis = listOf(0.0312, 0.0335),
        timing = TimingSource.NATIVE_INVOKE,
        memoryDeltaBytes = memory,
        accuracy = accuracy,
        predictions = emptyList(),
    )

    private val report = BenchmarkReport(
        models = listOf(
            model("baseline", 4_194_304, 3_145_728, Ratio(812, 1000)),
            model("compressed", 524_288, null, Ratio(803, 1000)),
        ),
        agreement = mapOf("compressed" to Ratio(975, 1000)),
        numExamples = 1000,
        config = BenchmarkConfig(),
        order = listOf(listOf("baseline", "compressed"), listOf("compressed", "baseline")),
    )

    @Test
    fun formatsTheSideBySideTable() {
        val manifest = Manifest.parse(File(Fixtures.assetsFixture(), "manifest.json").readText())
        assertEquals(listOf("", "baseline", "compressed"), ReportTable.header(report))
        val rows = ReportTable.rows(report, manifest).associate { it.metric to it.cells }
        assertEquals(listOf("full, float32", "rank 2, float32"), rows["Embedding"])
        assertEquals(listOf("4.00 MiB", "512.0 KiB"), rows["File size"])
        assertEquals(listOf("100.0 %", "12.5 %"), rows["Size vs baseline"])
        assertEquals(listOf("12.35 ms", "12.35 ms"), rows["Load"])
        assertEquals(listOf("2.50 ms", "2.50 ms"), rows["First inference"])
        assertEquals(listOf("500.0 µs", "500.0 µs"), rows["Latency p50"])
        assertEquals(listOf("1.23 ms", "1.23 ms"), rows["Latency p90"])
        assertEquals(listOf("31.2 µs / 33.5 µs", "31.2 µs / 33.5 µs"), rows["p50 by pass"])
        assertEquals(listOf("10", "10"), rows["Timed runs"])
        assertEquals(listOf("+3.00 MiB", "n/a"), rows["Memory Δ"])
        assertEquals(listOf("81.2 % (812/1000)", "80.3 % (803/1000)"), rows["Accuracy"])
        assertEquals(listOf("—", "97.5 % (975/1000)"), rows["Agreement"])
    }

    @Test
    fun formatsUnits() {
        assertEquals("999 B", ReportTable.formatBytes(999))
        assertEquals("-1.0 KiB", ReportTable.formatSignedBytes(-1024))
        assertEquals("250 ms", ReportTable.formatDuration(250.4))
        assertEquals("3.3 µs", ReportTable.formatDuration(0.0033))
        assertEquals("12.35 ms", ReportTable.formatDuration(12.345))
    }
}
