package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.FakeClassifier
import io.github.tflitelowrank.demo.core.testing.FakeClock
import org.junit.Assert.assertEquals
import org.junit.Assert.assertSame
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class BenchmarkRunnerTest {
    private val clock = FakeClock()

    // Label = first token id is even ? 0 : 1. The baseline is always right.
    private val examples = (0 until 10).map { i -> EncodedExample(label = i % 2, tokenIds = intArrayOf(i, 0, 0)) }

    private fun perfect(tokenIds: IntArray) =
        if (tokenIds[0] % 2 == 0) floatArrayOf(0.9f, 0.1f) else floatArrayOf(0.2f, 0.8f)

    // Wrong on ids 7 and 8 only.
    private fun flawed(tokenIds: IntArray) =
        if (tokenIds[0] in setOf(7, 8)) perfect(tokenIds).reversedArray() else perfect(tokenIds)

    private val baseline = FakeClassifier("baseline", clock, latencyMillis = { call -> if (call < 3) 50.0 else (call - 3 + 1).toDouble() }, answer = ::perfect)
    private val compressed = FakeClassifier("compressed", clock, latencyMillis = { 0.5 }, answer = ::flawed)

    private fun models(memory: MutableList<Long>? = null) = listOf(
        ModelUnderTest("baseline", 4_000_000) {
            clock.advanceMillis(12.0)
            memory?.add(30_000_000)
            baseline
        },
        ModelUnderTest("compressed", 500_000) {
            clock.advanceMillis(3.0)
            memory?.add(5_000_000)
            compressed
        },
    )

    @Test
    fun measuresLoadWarmupLatencyAccuracyAndAgreement() {
        val runner = BenchmarkRunner(BenchmarkConfig(warmupRuns = 3), clock)
        val report = runner.run(models(), examples, numLabels = 2)

        val (b, c) = report.models
        assertEquals(12.0, b.loadMillis, 1e-9)
        assertEquals(3.0, c.loadMillis, 1e-9)
        // The 3 warm-up calls (50 ms each) are not timed; timed calls take 1..10 ms.
        assertEquals(13, baseline.calls)
        assertEquals(10, b.latency.count)
        assertEquals(5.5, b.latency.meanMillis, 1e-9)
        assertEquals(5.5, b.latency.p50Millis, 1e-9)
        assertEquals(9.1, b.latency.p90Millis, 1e-9)
        assertEquals(0.5, c.latency.p90Millis, 1e-9)
        assertEquals(Ratio(10, 10), b.accuracy)
        assertEquals(Ratio(8, 10), c.accuracy)
        assertEquals(mapOf("compressed" to Ratio(8, 10)), report.agreement)
        assertEquals(4_000_000L, b.fileSizeBytes)
        assertEquals(null, b.memoryDeltaBytes)
        assertEquals(10, report.numExamples)
        assertTrue("classifiers are closed", baseline.closed && compressed.closed)
    }

    @Test
    fun memoryDeltaSpansLoadAndWarmup() {
        var used = 100_000_000L
        val loads = mutableListOf<Long>()
        val probe = MemoryProbe { used + loads.sum() }
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 1), clock, probe).run(models(loads), examples, 2)
        assertEquals(30_000_000L, report.models[0].memoryDeltaBytes)
        assertEquals(5_000_000L, report.models[1].memoryDeltaBytes)
    }

    @Test
    fun repeatsTimedPassesAndCapsExamples() {
        val config = BenchmarkConfig(warmupRuns = 0, timedPasses = 3, maxExamples = 4)
        val report = BenchmarkRunner(config, clock).run(models(), examples, 2)
        assertEquals(12, report.models[0].latency.count)
        assertEquals(4, report.numExamples)
        assertEquals(4, report.models[1].predictions.size)
        assertSame(config, report.config)
    }

    @Test
    fun progressIsMonotonicAndEndsAtTotal() {
        val seen = mutableListOf<BenchmarkProgress>()
        BenchmarkRunner(BenchmarkConfig(warmupRuns = 2), clock).run(models(), examples, 2) { seen += it }
        assertEquals(BenchmarkProgress.Phase.LOADING, seen.first().phase)
        assertEquals("baseline", seen.first().model)
        assertEquals(0, seen.first().done)
        val last = seen.last()
        assertEquals(BenchmarkProgress.Phase.FINISHED, last.phase)
        assertEquals(2 * (1 + 2 + 10), last.total)
        assertEquals(last.total, last.done)
        assertEquals(1f, last.fraction, 0f)
        assertTrue(seen.zipWithNext().all { (a, b) -> b.done >= a.done })
        assertTrue(seen.any { it.model == "compressed" && it.phase == BenchmarkProgress.Phase.TIMING })
    }

    @Test
    fun anExceptionFromProgressStopsTheRunAndClosesTheClassifier() {
        class Stop : RuntimeException()
        assertThrows(Stop::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(models(), examples, 2) {
                if (it.phase == BenchmarkProgress.Phase.TIMING) throw Stop()
            }
        }
        assertTrue(baseline.closed)
        assertEquals(0, compressed.calls)
    }

    @Test
    fun wrongOutputSizeIsAShapeMismatch() {
        val bad = ModelUnderTest("baseline", 1) { FakeClassifier("baseline") { floatArrayOf(1f, 0f, 0f) } }
        val error = assertThrows(AssetException.ModelShapeMismatch::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(listOf(bad), examples, 2)
        }
        assertEquals("2 values", error.expected)
    }

    @Test
    fun nonFiniteOutputIsReported() {
        val bad = ModelUnderTest("baseline", 1) { FakeClassifier("baseline") { floatArrayOf(Float.NaN, 0f) } }
        assertThrows(AssetException.ModelLoadFailed::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(listOf(bad), examples, 2)
        }
    }

    @Test
    fun rejectsEmptyInputsAndBadConfig() {
        val runner = BenchmarkRunner(clock = clock)
        assertThrows(IllegalArgumentException::class.java) { runner.run(emptyList(), examples, 2) }
        assertThrows(IllegalArgumentException::class.java) { runner.run(models(), emptyList(), 2) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(warmupRuns = -1) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(timedPasses = 0) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(maxExamples = 0) }
    }
}
