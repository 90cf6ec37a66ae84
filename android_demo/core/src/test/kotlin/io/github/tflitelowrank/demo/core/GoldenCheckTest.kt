package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.FakeClassifier
import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class GoldenCheckTest {
    private val bundle = AssetBundle.load(DirectoryAssetSource(Fixtures.assetsFixture()))

    /** A classifier that answers with the golden probabilities plus [offset] on class 0. */
    private fun replaying(key: String, offset: Float = 0f, swap: Boolean = false): Classifier {
        val byIds = bundle.golden.associate { it.tokenIds to it.probabilities.getValue(key) }
        return FakeClassifier(key) { ids ->
            val p = byIds.getValue(ids.toList()).map { it.toFloat() }.toFloatArray()
            p[0] += offset
            if (swap) p.reversedArray() else p
        }
    }

    @Test
    fun passesWhenTheRuntimeReproducesPython() {
        val classifiers = Manifest.MODEL_KEYS.map { replaying(it) }
        assertEquals(emptyList<GoldenMismatch>(), GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, atol = 1e-6))
    }

    @Test
    fun toleratesDifferencesWithinAtol() {
        val classifiers = listOf(replaying("baseline", offset = 4e-3f), replaying("compressed"))
        assertTrue(GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, atol = 5e-3).isEmpty())
    }

    @Test
    fun reportsProbabilitiesOutsideAtol() {
        val classifiers = listOf(replaying("baseline"), replaying("compressed", offset = 0.01f))
        val mismatches = GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, atol = 5e-3)
        assertEquals(bundle.golden.size, mismatches.size)
        assertTrue(mismatches.all { it.model == "compressed" && it.detail.contains("> 0.005") })
        assertEquals(1, mismatches.first().line)
    }

    @Test
    fun reportsTokenIdMismatchOnce() {
        val broken = bundle.golden.take(1).map { it.copy(tokenIds = it.tokenIds.map { id -> id + 1 }) }
        val mismatches = GoldenCheck.check(broken, bundle.tokenizer, Manifest.MODEL_KEYS.map { replaying(it) })
        assertEquals(1, mismatches.size)
        assertNull(mismatches.single().model)
        assertTrue(mismatches.single().detail.contains("differ from Python's"))
    }

    @Test
    fun reportsAFlippedPredictionWhenTheMarginIsClear() {
        // Swapping two classes moves every probability by the margin; with a huge atol only
        // the class check can catch it, and only where the margin exceeds 2 * atol.
        val atol = 0.05
        val classifiers = listOf(replaying("baseline", swap = true), replaying("compressed"))
        val mismatches = GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, atol = 1.0)
        assertTrue(mismatches.all { it.detail.startsWith("predicts class") })
        val clear = bundle.golden.count { g ->
            val p = g.probabilities.getValue("baseline")
            kotlin.math.abs(p[0] - p[1]) > 2 * 1.0
        }
        assertEquals(clear, mismatches.size) // margin can never exceed 2.0 for probabilities
        val strict = GoldenCheck.check(bundle.golden, bundle.tokenizer, classifiers, atol = atol)
        assertTrue(strict.isNotEmpty())
    }
}
