package io.github.tflitelowrank.demo.core.testing

import io.github.tflitelowrank.demo.core.Classifier
import io.github.tflitelowrank.demo.core.NanoClock

/** A clock that only moves when a fake says so. */
class FakeClock(var now: Long = 0L) : NanoClock {
    override fun nanoTime(): Long = now

    fun advanceMillis(millis: Double) {
        now += (millis * 1e6).toLong()
    }
}

/**
 * A classifier whose answer is a pure function of the ids and which advances [clock] by
 * [latencyMillis] of the call number, so latency statistics are known in advance. With
 * [nativeNanos], it also reports a native inference time per call (null = none), like
 * LiteRT's `getLastNativeInferenceDurationNanoseconds()`. Every call is appended to [log].
 */
class FakeClassifier(
    override val key: String,
    private val clock: FakeClock? = null,
    private val latencyMillis: (call: Int) -> Double = { 1.0 },
    private val nativeNanos: ((call: Int) -> Long?)? = null,
    private val log: MutableList<String>? = null,
    private val answer: (IntArray) -> FloatArray,
) : Classifier {
    var calls = 0
        private set
    var closed = false
        private set

    override var lastInferenceNanos: Long? = null
        private set

    override fun classify(tokenIds: IntArray): FloatArray {
        check(!closed) { "classify after close" }
        clock?.advanceMillis(latencyMillis(calls))
        lastInferenceNanos = nativeNanos?.invoke(calls)
        calls++
        log?.add(key)
        return answer(tokenIds)
    }

    override fun close() {
        closed = true
    }
}
