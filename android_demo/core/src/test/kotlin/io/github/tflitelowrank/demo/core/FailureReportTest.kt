package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.FileNotFoundException
import java.io.IOException

class FailureReportTest {
    @Test
    fun keepsAnAssetExceptionsOwnTitleAndMessage() {
        val error = AssetException.MissingFile("vocab.txt", "the app assets")
        val report = FailureReport.from("loading the assets", error)
        assertEquals("Asset missing", report.title)
        assertEquals(error.message, report.message)
    }

    @Test
    fun namesTheNativeLibraryForAnUnsatisfiedLinkError() {
        val report = FailureReport.from(
            "loading the models",
            UnsatisfiedLinkError("dlopen failed: library \"libtensorflowlite_jni.so\" not found"),
        )
        assertEquals("LiteRT native library not loaded", report.title)
        assertTrue(report.message, report.message.startsWith("The LiteRT native library could not be loaded while loading the models: dlopen failed"))
        assertTrue(report.message.contains("ABI"))
    }

    @Test
    fun describesRuntimeAndIoFailuresWithTheirCauseChain() {
        val litert = IllegalStateException(
            "Internal error: Failed to apply XNNPACK delegate",
            IllegalArgumentException("tensor 3 is not allocated"),
        )
        val report = FailureReport.from("running the benchmark", litert)
        assertEquals("LiteRT error", report.title)
        assertEquals("LiteRT failed while running the benchmark: Internal error: Failed to apply XNNPACK delegate", report.message)
        assertEquals(
            listOf(
                "java.lang.IllegalStateException: Internal error: Failed to apply XNNPACK delegate",
                "java.lang.IllegalArgumentException: tensor 3 is not allocated",
            ),
            report.causes,
        )
        val io = FailureReport.from("loading the assets", IOException("read failed", FileNotFoundException()))
        assertEquals("Could not read the assets", io.title)
        assertTrue(io.message.contains("while loading the assets: read failed"))
        assertEquals("java.io.FileNotFoundException", io.causes.last())
    }

    @Test
    fun anythingElseIsStillAReportNeverACrash() {
        val report = FailureReport.from("classifying the text", NoSuchElementException())
        assertEquals("Unexpected error", report.title)
        assertEquals("NoSuchElementException while classifying the text: NoSuchElementException", report.message)
        assertEquals("Out of memory", FailureReport.from("x", OutOfMemoryError()).title)
        assertEquals("LiteRT classes missing", FailureReport.from("x", NoClassDefFoundError("org/tensorflow/lite/InterpreterApi")).title)
    }

    @Test
    fun cutsCauseCycles() {
        val a = RuntimeException("a")
        val b = RuntimeException("b", a)
        a.initCause(b)
        assertEquals(listOf("java.lang.RuntimeException: a", "java.lang.RuntimeException: b"), FailureReport.causeChain(a))
    }
}
