package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class JsonTest {
    @Test
    fun parsesNestedDocumentKeepingKeyOrder() {
        val value = Json.parse(""" { "b": [1, -2.5e3, true, false, null], "a": {"x": "y"} } """)
        val obj = value.asObject("root")
        assertEquals(listOf("b", "a"), obj.members.keys.toList())
        val items = obj.required("b", "root").asArray("b").items
        assertEquals(JsonNumber("1"), items[0])
        assertEquals(-2500.0, items[1].asDouble("b[1]"), 0.0)
        assertEquals(JsonBoolean(true), items[2])
        assertEquals(JsonBoolean(false), items[3])
        assertEquals(JsonNull, items[4])
        assertEquals("y", obj.required("a", "root").asObject("a").required("x", "a").asString("a.x"))
    }

    @Test
    fun decodesEscapesAndSurrogatePairsLikePythonJsonDumps() {
        // json.dumps("\"\\/\b\f\n\r\t é 😀") with ensure_ascii=True
        val text = "\"\\\"\\\\\\/\\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00\""
        assertEquals("\"\\/\b\u000C\n\r\t é \uD83D\uDE00", Json.parse(text).asString("s"))
    }

    @Test
    fun keepsRawUtf8Characters() {
        assertEquals("naïve 😀 日本", Json.parse("\"naïve 😀 日本\"").asString("s"))
    }

    @Test
    fun keepsLargeIntegersExact() {
        val number = Json.parse("9007199254740993") as JsonNumber
        assertEquals(9007199254740993L, number.toLongOrNull())
        assertEquals(null, (Json.parse("1.0") as JsonNumber).toLongOrNull())
        assertEquals(null, (Json.parse("1e3") as JsonNumber).toLongOrNull())
    }

    @Test
    fun rejectsMalformedDocuments() {
        val bad = listOf(
            "", "   ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "-", "1.", ".5", "1e",
            "+1", "NaN", "Infinity", "-Infinity", "tru", "nul", "\"abc", "\"a\\x\"", "\"\\u12G4\"",
            "\"tab\tinside\"", "[1] [2]", "{\"a\":1}x", "// c\n1", "'single'",
        )
        for (text in bad) {
            assertThrows("should reject <$text>", JsonParseException::class.java) { Json.parse(text) }
        }
    }

    @Test
    fun rejectsDuplicateKeysWithTheirOffset() {
        val error = assertThrows(JsonParseException::class.java) { Json.parse("{\"a\": 1, \"a\": 2}") }
        assertTrue(error.message!!, error.message!!.contains("duplicate key \"a\""))
        assertEquals(9, error.offset)
    }

    @Test
    fun limitsNestingDepth() {
        Json.parse("[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH))
        assertThrows(JsonParseException::class.java) {
            Json.parse("[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2))
        }
    }

    @Test
    fun typedAccessorsNameThePathAndWhatWasFound() {
        val obj = Json.parse("""{"n": 1.5, "s": "x", "big": 3000000000}""").asObject("m")
        val notInt = assertThrows(JsonShapeException::class.java) { obj.required("n", "m").asInt("m.n") }
        assertEquals("`m.n` must be an integer, found 1.5", notInt.message)
        val notNumber = assertThrows(JsonShapeException::class.java) { obj.required("s", "m").asDouble("m.s") }
        assertEquals("`m.s` must be a number, found a string", notNumber.message)
        val missing = assertThrows(JsonShapeException::class.java) { obj.required("q", "m") }
        assertEquals("`m.q` is missing", missing.message)
        assertThrows(JsonShapeException::class.java) { obj.required("big", "m").asInt("m.big") }
        assertEquals(3000000000L, obj.required("big", "m").asLong("m.big"))
        assertEquals(null, Json.parse("""{"x": null}""").asObject("o").optional("x"))
    }
}
