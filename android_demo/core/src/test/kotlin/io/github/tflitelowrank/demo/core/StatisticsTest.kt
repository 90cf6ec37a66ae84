package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class StatisticsTest {
    // Expected values computed with numpy: np.percentile(x, q) (linear, type 7).
    @Test
    fun percentileMatchesNumpyLinearInterpolation() {
        val oneToTen = DoubleArray(10) { it + 1.0 }
        assertEquals(5.5, percentile(oneToTen, 50.0), 1e-12)
        assertEquals(9.1, percentile(oneToTen, 90.0), 1e-12)
        assertEquals(1.0, percentile(oneToTen, 0.0), 0.0)
        assertEquals(10.0, percentile(oneToTen, 100.0), 0.0)
        assertEquals(3.25, percentile(oneToTen, 25.0), 1e-12)
        val skewed = doubleArrayOf(1.0, 2.0, 4.0, 100.0)
        assertEquals(3.0, percentile(skewed, 50.0), 1e-12) // np.percentile([1,2,4,100], 50)
        assertEquals(71.2, percentile(skewed, 90.0), 1e-9) // 4 + 0.7 * 96
        assertEquals(7.0, percentile(doubleArrayOf(7.0), 90.0), 0.0)
    }

    @Test
    fun percentileRejectsEmptyAndOutOfRange() {
        assertThrows(IllegalArgumentException::class.java) { percentile(DoubleArray(0), 50.0) }
        assertThrows(IllegalArgumentException::class.java) { percentile(doubleArrayOf(1.0), 101.0) }
    }

    @Test
    fun latencyStatsFromUnsortedNanoseconds() {
        val stats = LatencyStats.fromNanos(longArrayOf(4_000_000, 1_000_000, 100_000_000, 2_000_000))
        assertEquals(4, stats.count)
        assertEquals(26.75, stats.meanMillis, 1e-12)
        assertEquals(3.0, stats.p50Millis, 1e-12)
        assertEquals(71.2, stats.p90Millis, 1e-9)
        assertEquals(1.0, stats.minMillis, 0.0)
        assertEquals(100.0, stats.maxMillis, 0.0)
        assertThrows(IllegalArgumentException::class.java) { LatencyStats.fromNanos(LongArray(0)) }
    }

    @Test
    fun accuracyAndAgreementCountHits() {
        val labels = intArrayOf(0, 1, 1, 0, 1)
        val first = intArrayOf(0, 1, 0, 0, 1)
        val second = intArrayOf(0, 1, 0, 1, 0)
        assertEquals(Ratio(4, 5), accuracy(first, labels))
        assertEquals(0.8, accuracy(first, labels).value, 1e-12)
        assertEquals(Ratio(2, 5), accuracy(second, labels))
        assertEquals(Ratio(3, 5), agreement(first, second))
        assertEquals(Ratio(5, 5), agreement(first, first))
        assertTrue(Ratio(0, 0).value.isNaN())
        assertThrows(IllegalArgumentException::class.java) { accuracy(intArrayOf(1), intArrayOf(1, 0)) }
        assertThrows(IllegalArgumentException::class.java) { Ratio(3, 2) }
    }

    @Test
    fun argmaxBreaksTiesTowardsTheLowestIndexLikeNumpy() {
        assertEquals(1, argmax(floatArrayOf(0.2f, 0.5f, 0.3f)))
        assertEquals(0, argmax(floatArrayOf(0.5f, 0.5f)))
        assertEquals(1, argmax(listOf(0.1, 0.45, 0.45)))
        assertThrows(IllegalArgumentException::class.java) { argmax(FloatArray(0)) }
    }
}
