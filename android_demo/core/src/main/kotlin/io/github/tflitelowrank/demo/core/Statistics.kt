package io.github.tflitelowrank.demo.core

/**
 * Percentile with linear interpolation between the two nearest order statistics
 * (Hyndman and Fan type 7, numpy's default `np.percentile(x, q)`): for sorted `x` of length
 * `n`, `h = (n - 1) * q / 100` and the result is `x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)])`.
 * So p50 of an even-sized sample is the mean of the two middle values, and p0/p100 are the
 * minimum/maximum. The Python benchmark uses numpy with the same default, so the app and
 * `tflite_lowrank.benchmark` report comparable numbers.
 */
fun percentile(sorted: DoubleArray, q: Double): Double {
    require(sorted.isNotEmpty()) { "percentile of an empty sample" }
    require(q in 0.0..100.0) { "`q` must be in [0, 100]. Received: q=$q" }
    val h = (sorted.size - 1) * q / 100.0
    val lo = kotlin.math.floor(h).toInt()
    val hi = minOf(lo + 1, sorted.size - 1)
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
}

/** Latency summary in milliseconds over [count] timed inferences. */
data class LatencyStats(
    val count: Int,
    val meanMillis: Double,
    val p50Millis: Double,
    val p90Millis: Double,
    val minMillis: Double,
    val maxMillis: Double,
) {
    companion object {
        /** Summarises per-inference durations in nanoseconds. */
        fun fromNanos(samples: LongArray): LatencyStats {
            require(samples.isNotEmpty()) { "no latency samples" }
            val millis = DoubleArray(samples.size) { samples[it] / 1e6 }
            millis.sort()
            return LatencyStats(
                count = millis.size,
                meanMillis = millis.sum() / millis.size,
                p50Millis = percentile(millis, 50.0),
                p90Millis = percentile(millis, 90.0),
                minMillis = millis.first(),
                maxMillis = millis.last(),
            )
        }
    }
}

/** A share `hits / total`, kept as counts so the screen can show both. */
data class Ratio(val hits: Int, val total: Int) {
    init {
        require(total >= 0 && hits in 0..total) { "invalid ratio $hits/$total" }
    }

    /** The share in [0, 1]; NaN when [total] is 0. */
    val value: Double get() = if (total == 0) Double.NaN else hits.toDouble() / total
}

/** Fraction of [predictions] equal to [labels]. */
fun accuracy(predictions: IntArray, labels: IntArray): Ratio {
    require(predictions.size == labels.size) {
        "predictions and labels differ in length: ${predictions.size} != ${labels.size}"
    }
    return Ratio(predictions.indices.count { predictions[it] == labels[it] }, predictions.size)
}

/** Fraction of examples on which two models predict the same class (their top-1 agreement). */
fun agreement(first: IntArray, second: IntArray): Ratio {
    require(first.size == second.size) { "prediction lists differ in length: ${first.size} != ${second.size}" }
    return Ratio(first.indices.count { first[it] == second[it] }, first.size)
}
