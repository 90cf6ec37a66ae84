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
    private val log = mutableListOf<String>()

    // Label = first token id is even ? 0 : 1. The baseline is always right.
    private val examples = (0 until 10).map { i -> EncodedExample(label = i % 2, tokenIds = intArrayOf(i, 0, 0)) }

    private fun perfect(tokenIds: IntArray) =
        if (tokenIds[0] % 2 == 0) floatArrayOf(0.9f, 0.1f) else floatArrayOf(0.2f, 0.8f)

    // Wrong on ids 7 and 8 only.
    private fun flawed(tokenIds: IntArray) =
        if (tokenIds[0] in setOf(7, 8)) perfect(tokenIds).reversedArray() else perfect(tokenIds)

    private fun models(
        baseline: FakeClassifier,
        compressed: FakeClassifier,
        memory: MutableList<Long>? = null,
    ) = listOf(
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

    private fun baseline(latency: (Int) -> Double = { 1.0 }, native: ((Int) -> Long?)? = null) =
        FakeClassifier("baseline", clock, latency, native, log, ::perfect)

    private fun compressed(latency: (Int) -> Double = { 0.5 }, native: ((Int) -> Long?)? = null) =
        FakeClassifier("compressed", clock, latency, native, log, ::flawed)

    @Test
    fun measuresLoadFirstInferenceWarmupLatencyAccuracyAndAgreement() {
        // Call 0 is the first inference (50 ms), calls 1-3 the warm-up; timed calls take 1..10 ms.
        val b = baseline(latency = { call -> if (call < 4) 50.0 else (call - 3).toDouble() })
        val c = compressed()
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 3, passes = 1), clock).run(models(b, c), examples, 2)

        val (rb, rc) = report.models
        assertEquals(12.0, rb.loadMillis, 1e-9)
        assertEquals(3.0, rc.loadMillis, 1e-9)
        assertEquals(50.0, rb.firstInferenceMillis, 1e-9)
        assertEquals(14, b.calls)
        assertEquals(10, rb.latency.count)
        assertEquals(5.5, rb.latency.meanMillis, 1e-9)
        assertEquals(5.5, rb.latency.p50Millis, 1e-9)
        assertEquals(9.1, rb.latency.p90Millis, 1e-9)
        assertEquals(listOf(5.5), rb.passP50Millis)
        assertEquals(0.5, rc.latency.p90Millis, 1e-9)
        assertEquals(TimingSource.CLASSIFY_CALL, rb.timing)
        assertEquals(Ratio(10, 10), rb.accuracy)
        assertEquals(Ratio(8, 10), rc.accuracy)
        assertEquals(mapOf("compressed" to Ratio(8, 10)), report.agreement)
        assertEquals(4_000_000L, rb.fileSizeBytes)
        assertEquals(null, rb.memoryDeltaBytes)
        assertEquals(10, report.numExamples)
        assertTrue("classifiers are closed", b.closed && c.closed)
    }

    @Test
    fun passesInterleaveTheModelsInAlternatingOrder() {
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 1, passes = 4), clock)
            .run(models(baseline(), compressed()), examples, 2)
        val b = "baseline"
        val c = "compressed"
        assertEquals(listOf(listOf(b, c), listOf(c, b), listOf(b, c), listOf(c, b)), report.order)
        // Loads one after the other (first inference + 1 warm-up each), then blocks of 10 per pass.
        val expected = listOf(b, b, c, c) +
            List(10) { b } + List(10) { c } +
            List(10) { c } + List(10) { b } +
            List(10) { b } + List(10) { c } +
            List(10) { c } + List(10) { b }
        assertEquals(expected, log)
        assertEquals(40, report.models[0].latency.count)
    }

    @Test
    fun reportsTheSpreadOfEachPass() {
        // Compressed: timed calls start at call 1 (no warm-up); each pass has 10 calls and
        // passes 2 and 4 are twice as slow (a throttled phone, say).
        val c = compressed(latency = { call -> if (call == 0) 7.0 else if (((call - 1) / 10) % 2 == 0) 1.0 else 2.0 })
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 0, passes = 4), clock)
            .run(models(baseline(), c), examples, 2)
        val rc = report.models[1]
        assertEquals(listOf(1.0, 2.0, 1.0, 2.0), rc.passP50Millis)
        assertEquals(1.5, rc.latency.p50Millis, 1e-9)
        assertEquals(2.0, rc.latency.p90Millis, 1e-9)
        assertEquals(7.0, rc.firstInferenceMillis, 1e-9)
    }

    @Test
    fun prefersTheNativeInferenceTimeOverTheCallTime() {
        // The call takes 1 ms (copies, JNI) but the native invoke() 200 µs.
        val b = baseline(latency = { 1.0 }, native = { 200_000L })
        val c = compressed(latency = { 1.0 })
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 0, passes = 2), clock)
            .run(models(b, c), examples, 2)
        val (rb, rc) = report.models
        assertEquals(0.2, rb.latency.p50Millis, 1e-12)
        assertEquals(0.2, rb.firstInferenceMillis, 1e-12)
        assertEquals(TimingSource.NATIVE_INVOKE, rb.timing)
        assertEquals(1.0, rc.latency.p50Millis, 1e-12)
        assertEquals(TimingSource.CLASSIFY_CALL, rc.timing)
        assertEquals(TimingSource.MIXED, report.timing)
        val sometimes = baseline(native = { call -> if (call % 2 == 0) 100_000L else null })
        val mixed = BenchmarkRunner(BenchmarkConfig(warmupRuns = 0, passes = 1), clock)
            .run(models(sometimes, compressed()), examples, 2)
        assertEquals(TimingSource.MIXED, mixed.models[0].timing)
    }

    @Test
    fun memoryDeltaSpansLoadAndWarmupOfEachModelAlone() {
        val loads = mutableListOf<Long>()
        val probe = MemoryProbe { 100_000_000L + loads.sum() }
        val report = BenchmarkRunner(BenchmarkConfig(warmupRuns = 1, passes = 1), clock, probe)
            .run(models(baseline(), compressed(), loads), examples, 2)
        assertEquals(30_000_000L, report.models[0].memoryDeltaBytes)
        assertEquals(5_000_000L, report.models[1].memoryDeltaBytes)
    }

    @Test
    fun capsExamples() {
        val config = BenchmarkConfig(warmupRuns = 0, passes = 3, maxExamples = 4)
        val report = BenchmarkRunner(config, clock).run(models(baseline(), compressed()), examples, 2)
        assertEquals(12, report.models[0].latency.count)
        assertEquals(4, report.numExamples)
        assertEquals(4, report.models[1].predictions.size)
        assertSame(config, report.config)
    }

    @Test
    fun progressIsMonotonicNamesThePassAndEndsAtTotal() {
        val seen = mutableListOf<BenchmarkProgress>()
        BenchmarkRunner(BenchmarkConfig(warmupRuns = 2, passes = 2), clock)
            .run(models(baseline(), compressed()), examples, 2) { seen += it }
        assertEquals(BenchmarkProgress.Phase.LOADING, seen.first().phase)
        assertEquals("baseline", seen.first().model)
        assertEquals(0, seen.first().done)
        val last = seen.last()
        assertEquals(BenchmarkProgress.Phase.FINISHED, last.phase)
        assertEquals(2 * (2 + 2) + 2 * 2 * 10, last.total)
        assertEquals(last.total, last.done)
        assertEquals(1f, last.fraction, 0f)
        assertTrue(seen.zipWithNext().all { (a, b) -> b.done >= a.done })
        val timing = seen.filter { it.phase == BenchmarkProgress.Phase.TIMING }
        assertEquals(listOf(1, 2), timing.map { it.pass }.distinct())
        // Pass 2 starts with the compressed model.
        assertEquals("compressed", timing.first { it.pass == 2 }.model)
        assertEquals("finished (100 %)", last.describe())
    }

    @Test
    fun describesProgressForTheScreen() {
        assertEquals("loading baseline (0 %)", BenchmarkProgress("baseline", BenchmarkProgress.Phase.LOADING, 0, 4, 0, 100).describe())
        assertEquals("warming up compressed (12 %)", BenchmarkProgress("compressed", BenchmarkProgress.Phase.WARMUP, 0, 4, 12, 100).describe())
        assertEquals("pass 2/4: timing compressed (61 %)", BenchmarkProgress("compressed", BenchmarkProgress.Phase.TIMING, 2, 4, 61, 100).describe())
    }

    @Test
    fun anExceptionFromProgressStopsTheRunAndClosesEveryClassifier() {
        class Stop : RuntimeException()
        val b = baseline()
        val c = compressed()
        assertThrows(Stop::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(models(b, c), examples, 2) {
                if (it.phase == BenchmarkProgress.Phase.TIMING) throw Stop()
            }
        }
        assertTrue(b.closed && c.closed)
        assertEquals(1, b.calls) // the first inference only
    }

    @Test
    fun aFailedLoadClosesTheModelsAlreadyLoaded() {
        val b = baseline()
        class Boom : RuntimeException("no such file")
        val failing = listOf(
            ModelUnderTest("baseline", 1) { b },
            ModelUnderTest("compressed", 1) { throw Boom() },
        )
        assertThrows(Boom::class.java) { BenchmarkRunner(BenchmarkConfig(warmupRuns = 1), clock).run(failing, examples, 2) }
        assertTrue(b.closed)
    }

    @Test
    fun wrongOutputSizeIsAShapeMismatchAndClosesTheClassifier() {
        val bad = FakeClassifier("baseline") { floatArrayOf(1f, 0f, 0f) }
        val error = assertThrows(AssetException.ModelShapeMismatch::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(listOf(ModelUnderTest("baseline", 1) { bad }), examples, 2)
        }
        assertEquals("2 values", error.expected)
        assertTrue(bad.closed)
    }

    @Test
    fun nonFiniteOutputIsReported() {
        val bad = ModelUnderTest("baseline", 1) { FakeClassifier("baseline") { floatArrayOf(Float.NaN, 0f) } }
        assertThrows(AssetException.ModelLoadFailed::class.java) {
            BenchmarkRunner(BenchmarkConfig(warmupRuns = 0), clock).run(listOf(bad), examples, 2)
        }
    }

    @Test
    fun rejectsEmptyInputsRepeatedKeysAndBadConfig() {
        val runner = BenchmarkRunner(clock = clock)
        assertThrows(IllegalArgumentException::class.java) { runner.run(emptyList(), examples, 2) }
        assertThrows(IllegalArgumentException::class.java) { runner.run(models(baseline(), compressed()), emptyList(), 2) }
        val twice = ModelUnderTest("baseline", 1) { baseline() }
        assertThrows(IllegalArgumentException::class.java) { runner.run(listOf(twice, twice), examples, 2) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(warmupRuns = -1) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(passes = 0) }
        assertThrows(IllegalArgumentException::class.java) { BenchmarkConfig(maxExamples = 0) }
    }
}

class InterleavedOrderTest {
    @Test
    fun alternatesTheOrderFromPassToPass() {
        assertEquals(listOf(listOf(0, 1), listOf(1, 0), listOf(0, 1), listOf(1, 0)), interleavedOrder(2, 4))
        assertEquals(listOf(listOf(0, 1, 2), listOf(2, 1, 0), listOf(0, 1, 2)), interleavedOrder(3, 3))
        assertEquals(listOf(listOf(0), listOf(0)), interleavedOrder(1, 2))
        assertEquals(listOf(listOf(0, 1)), interleavedOrder(2, 1))
    }

    @Test
    fun everyModelLeadsEquallyOftenOverAnEvenNumberOfPasses() {
        val order = interleavedOrder(2, 6)
        assertEquals(mapOf(0 to 3, 1 to 3), order.groupingBy { it.first() }.eachCount())
        assertTrue(order.all { it.sorted() == listOf(0, 1) })
    }

    @Test
    fun rejectsNoModelsOrPasses() {
        assertThrows(IllegalArgumentException::class.java) { interleavedOrder(0, 2) }
        assertThrows(IllegalArgumentException::class.java) { interleavedOrder(2, 0) }
    }
}
