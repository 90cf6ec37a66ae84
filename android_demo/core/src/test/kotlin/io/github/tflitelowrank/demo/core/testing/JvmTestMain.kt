package io.github.tflitelowrank.demo.core.testing

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Runs JUnit 4 test classes (names as arguments) and ends with the plain line
 * `N passed, N failed` (`, N skipped` when some were ignored) that CI reads.
 * Used by android_demo/scripts/jvm_test.sh; Gradle's `:core:test` runs the same classes.
 */
object JvmTestMain {
    @JvmStatic
    fun main(args: Array<String>) {
        val classes = args.map { Class.forName(it) }
        val listener = CountingListener()
        val core = JUnitCore()
        core.addListener(listener)
        val start = System.nanoTime()
        for (cls in classes) core.run(Request.aClass(cls))
        val seconds = (System.nanoTime() - start) / 1e9
        System.out.printf("ran %d test classes in %.1f s%n", classes.size, seconds)
        val skipped = if (listener.skipped > 0) ", ${listener.skipped} skipped" else ""
        println("${listener.passed} passed, ${listener.failed} failed$skipped")
        System.out.flush()
        exitProcess(if (listener.failed == 0 && listener.passed > 0) 0 else 1)
    }

    private class CountingListener : RunListener() {
        var passed = 0
        var failed = 0
        var skipped = 0
        private var currentFailed = false

        override fun testStarted(description: Description) {
            currentFailed = false
        }

        override fun testFailure(failure: Failure) {
            // A failure outside a test (class setup) also counts once.
            if (!currentFailed) failed++
            currentFailed = true
            println("FAIL ${failure.description.displayName}")
            println(failure.trace.lineSequence().take(12).joinToString("\n") { "    $it" })
        }

        override fun testAssumptionFailure(failure: Failure) {
            skipped++
            currentFailed = true
            println("SKIP ${failure.description.displayName}: ${failure.message}")
        }

        override fun testIgnored(description: Description) {
            skipped++
            println("SKIP ${description.displayName}")
        }

        override fun testFinished(description: Description) {
            if (!currentFailed) passed++
            currentFailed = false
        }
    }
}
