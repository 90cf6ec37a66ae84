package io.github.tflitelowrank.demo

import androidx.compose.ui.test.SemanticsMatcher
import androidx.compose.ui.test.assertIsDisplayed
import androidx.compose.ui.test.assertTextContains
import androidx.compose.ui.test.hasTestTag
import androidx.compose.ui.test.hasText
import androidx.compose.ui.test.junit4.ComposeTestRule
import androidx.compose.ui.test.junit4.createAndroidComposeRule
import androidx.compose.ui.test.onNodeWithTag
import androidx.compose.ui.test.onNodeWithText
import androidx.compose.ui.test.performClick
import androidx.compose.ui.test.performScrollTo
import androidx.compose.ui.test.performTextReplacement
import androidx.test.ext.junit.runners.AndroidJUnit4
import org.junit.Assert.assertFalse
import org.junit.Rule
import org.junit.Test
import org.junit.runner.RunWith

/** The screen with real assets: classify a typed sentence, then run the benchmark to the table. */
@RunWith(AndroidJUnit4::class)
class DemoScreenTest {
    @get:Rule
    val rule = createAndroidComposeRule<MainActivity>()

    @Test
    fun classifiesTheTypedTextAndShowsTheBenchmarkTable() {
        rule.waitUntil(timeoutMillis = 20_000) { rule.exists(hasTestTag(Tags.TEXT)) || rule.exists(hasTestTag(Tags.ERROR)) }
        assertFalse("the assets failed to load (see the error card)", rule.exists(hasTestTag(Tags.ERROR)))

        // The screen starts with the first golden sentence already classified; wait for the
        // result of the typed one, not just for any result.
        val typed = "A wonderful, moving film."
        rule.onNodeWithTag(Tags.TEXT).performTextReplacement(typed)
        rule.waitUntil(timeoutMillis = 10_000) { rule.exists(hasTestTag(Tags.RESULT_TEXT) and hasText(typed, substring = true)) }
        rule.onNodeWithTag(Tags.RESULT_TEXT).assertTextContains(typed, substring = true)
        rule.onNodeWithTag(Tags.TOKENS).assertTextContains("wonderful , moving film .", substring = true)
        rule.onNodeWithTag(Tags.RESULT).assertIsDisplayed()
        assertFalse("classifying failed", rule.exists(hasTestTag(Tags.CLASSIFY_ERROR)))

        rule.onNodeWithTag(Tags.RUN).performScrollTo().performClick()
        rule.waitUntil(timeoutMillis = 600_000) {
            rule.exists(hasTestTag(Tags.TABLE)) || rule.exists(hasTestTag(Tags.BENCHMARK_ERROR))
        }
        assertFalse("the benchmark failed (see the error card)", rule.exists(hasTestTag(Tags.BENCHMARK_ERROR)))
        rule.onNodeWithText("Latency p50").performScrollTo().assertIsDisplayed()
        rule.onNodeWithText("p50 by pass").assertExists()
        rule.onNodeWithText("Agreement").assertExists()
        rule.onNodeWithTag(Tags.SHARE).assertExists()
        rule.onNodeWithTag(Tags.COPY).assertExists()
    }
}

private fun ComposeTestRule.exists(matcher: SemanticsMatcher): Boolean =
    onAllNodes(matcher).fetchSemanticsNodes().isNotEmpty()
