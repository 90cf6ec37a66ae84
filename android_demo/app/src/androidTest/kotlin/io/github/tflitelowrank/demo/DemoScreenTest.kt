package io.github.tflitelowrank.demo

import androidx.compose.ui.test.assertIsDisplayed
import androidx.compose.ui.test.hasTestTag
import androidx.compose.ui.test.junit4.ComposeTestRule
import androidx.compose.ui.test.junit4.createAndroidComposeRule
import androidx.compose.ui.test.onNodeWithTag
import androidx.compose.ui.test.onNodeWithText
import androidx.compose.ui.test.performClick
import androidx.compose.ui.test.performScrollTo
import androidx.compose.ui.test.performTextReplacement
import androidx.test.ext.junit.runners.AndroidJUnit4
import org.junit.Rule
import org.junit.Test
import org.junit.runner.RunWith

/** The screen with real assets: classify a sentence, then run the benchmark to the table. */
@RunWith(AndroidJUnit4::class)
class DemoScreenTest {
    @get:Rule
    val rule = createAndroidComposeRule<MainActivity>()

    @Test
    fun classifiesTypedTextAndShowsTheBenchmarkTable() {
        rule.waitUntil(timeoutMillis = 20_000) {
            rule.onAllNodesWithTagExists(Tags.TEXT) || rule.onAllNodesWithTagExists(Tags.ERROR)
        }
        rule.onNodeWithTag(Tags.TEXT).performTextReplacement("A wonderful, moving film.")
        rule.waitUntil(timeoutMillis = 5_000) { rule.onAllNodesWithTagExists(Tags.RESULT) }
        rule.onNodeWithTag(Tags.RESULT).assertIsDisplayed()

        rule.onNodeWithTag(Tags.RUN).performScrollTo().performClick()
        rule.waitUntil(timeoutMillis = 300_000) { rule.onAllNodesWithTagExists(Tags.TABLE) }
        rule.onNodeWithText("Latency p50").performScrollTo().assertIsDisplayed()
        rule.onNodeWithText("Agreement").assertExists()
    }
}

private fun ComposeTestRule.onAllNodesWithTagExists(tag: String): Boolean =
    onAllNodes(hasTestTag(tag)).fetchSemanticsNodes().isNotEmpty()
