package io.github.tflitelowrank.demo.core

/**
 * A small, strict JSON (RFC 8259) reader for the asset files.
 *
 * `core` must run on a plain JVM with only the Kotlin standard library, so it cannot use
 * `org.json` (Android only) or a serialization library. The asset files are written by
 * Python's `json` module with `allow_nan=False`, so a strict reader is enough: duplicate
 * keys, `NaN`, trailing commas, comments and leading zeros are errors.
 */
sealed interface JsonValue

data class JsonObject(val members: Map<String, JsonValue>) : JsonValue

data class JsonArray(val items: List<JsonValue>) : JsonValue

data class JsonString(val value: String) : JsonValue

/** A number kept as its source text, so integers of any size survive exactly. */
data class JsonNumber(val text: String) : JsonValue {
    val isInteger: Boolean get() = text.none { it == '.' || it == 'e' || it == 'E' }

    fun toDouble(): Double = text.toDouble()

    /** The value as a Long, or null if it has a fraction or exponent or does not fit. */
    fun toLongOrNull(): Long? = if (isInteger) text.toLongOrNull() else null
}

data class JsonBoolean(val value: Boolean) : JsonValue

data object JsonNull : JsonValue

/** Bad JSON text; [offset] is the UTF-16 index where reading stopped. */
class JsonParseException(message: String, val offset: Int) :
    IllegalArgumentException("$message at offset $offset")

/** A well-formed JSON value of the wrong shape, e.g. a string where a number was expected. */
class JsonShapeException(val path: String, message: String) :
    IllegalArgumentException("`$path` $message")

object Json {
    /** Nesting limit: the asset files nest 4 levels deep; this guards against stack overflow. */
    const val MAX_DEPTH: Int = 64

    /** Parses one JSON document; whitespace around it is allowed, anything else is an error. */
    fun parse(text: String): JsonValue = Reader(text).readDocument()

    private class Reader(private val text: String) {
        private var pos = 0

        fun readDocument(): JsonValue {
            skipWhitespace()
            val value = readValue(depth = 0)
            skipWhitespace()
            if (pos != text.length) fail("unexpected text after the JSON value")
            return value
        }

        private fun readValue(depth: Int): JsonValue {
            if (depth > MAX_DEPTH) fail("nesting deeper than $MAX_DEPTH levels")
            if (pos >= text.length) fail("unexpected end of input, expected a value")
            return when (val c = text[pos]) {
                '{' -> readObject(depth)
                '[' -> readArray(depth)
                '"' -> JsonString(readString())
                't' -> readLiteral("true", JsonBoolean(true))
                'f' -> readLiteral("false", JsonBoolean(false))
                'n' -> readLiteral("null", JsonNull)
                else -> if (c == '-' || c in '0'..'9') readNumber() else fail("unexpected character '${printable(c)}'")
            }
        }

        private fun readObject(depth: Int): JsonObject {
            pos++ // '{'
            val members = LinkedHashMap<String, JsonValue>()
            skipWhitespace()
            if (peek() == '}') {
                pos++
                return JsonObject(members)
            }
            while (true) {
                skipWhitespace()
                if (peek() != '"') fail("expected a string key")
                val keyOffset = pos
                val key = readString()
                if (key in members) {
                    throw JsonParseException("duplicate key \"$key\"", keyOffset)
                }
                skipWhitespace()
                expect(':')
                skipWhitespace()
                members[key] = readValue(depth + 1)
                skipWhitespace()
                when (peek()) {
                    ',' -> pos++
                    '}' -> {
                        pos++
                        return JsonObject(members)
                    }
                    else -> fail("expected ',' or '}' in an object")
                }
            }
        }

        private fun readArray(depth: Int): JsonArray {
            pos++ // '['
            val items = ArrayList<JsonValue>()
            skipWhitespace()
            if (peek() == ']') {
                pos++
                return JsonArray(items)
            }
            while (true) {
                skipWhitespace()
                items += readValue(depth + 1)
                skipWhitespace()
                when (peek()) {
                    ',' -> pos++
                    ']' -> {
                        pos++
                        return JsonArray(items)
                    }
                    else -> fail("expected ',' or ']' in an array")
                }
            }
        }

        private fun readString(): String {
            pos++ // opening quote
            val out = StringBuilder()
            while (true) {
                if (pos >= text.length) fail("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> out.append(readEscape())
                    c < ' ' -> {
                        pos--
                        fail("control character U+%04X must be escaped in a string".format(c.code))
                    }
                    else -> out.append(c)
                }
            }
        }

        private fun readEscape(): Char {
            if (pos >= text.length) fail("unterminated escape")
            return when (val c = text[pos++]) {
                '"' -> '"'
                '\\' -> '\\'
                '/' -> '/'
                'b' -> '\b'
                'f' -> '\u000C'
                'n' -> '\n'
                'r' -> '\r'
                't' -> '\t'
                'u' -> {
                    if (pos + 4 > text.length) fail("incomplete \\u escape")
                    var code = 0
                    repeat(4) {
                        val digit = Character.digit(text[pos], 16)
                        if (digit < 0) fail("bad hex digit in \\u escape")
                        code = code * 16 + digit
                        pos++
                    }
                    // Surrogate pairs arrive as two escapes and become two UTF-16 units,
                    // which is exactly how Kotlin stores them.
                    code.toChar()
                }
                else -> {
                    pos--
                    fail("unknown escape '\\${printable(c)}'")
                }
            }
        }

        private fun readNumber(): JsonNumber {
            val start = pos
            if (peek() == '-') pos++
            when {
                peek() == '0' -> {
                    pos++
                    if (peek() in '0'..'9') fail("leading zeros are not allowed")
                }
                peek() in '1'..'9' -> skipDigits()
                else -> fail("expected a digit")
            }
            if (peek() == '.') {
                pos++
                if (peek() !in '0'..'9') fail("expected a digit after '.'")
                skipDigits()
            }
            if (peek() == 'e' || peek() == 'E') {
                pos++
                if (peek() == '+' || peek() == '-') pos++
                if (peek() !in '0'..'9') fail("expected a digit in the exponent")
                skipDigits()
            }
            return JsonNumber(text.substring(start, pos))
        }

        private fun skipDigits() {
            while (peek() in '0'..'9') pos++
        }

        private fun readLiteral(word: String, value: JsonValue): JsonValue {
            if (!text.startsWith(word, pos)) fail("unexpected word, expected '$word'")
            pos += word.length
            return value
        }

        private fun skipWhitespace() {
            while (pos < text.length) {
                when (text[pos]) {
                    ' ', '\t', '\n', '\r' -> pos++
                    else -> return
                }
            }
        }

        private fun peek(): Char = if (pos < text.length) text[pos] else '\u0000'

        private fun expect(c: Char) {
            if (peek() != c) fail("expected '$c'")
            pos++
        }

        private fun printable(c: Char): String =
            if (c < ' ' || c.code > 0x7E) "\\u%04x".format(c.code) else c.toString()

        private fun fail(message: String): Nothing = throw JsonParseException(message, pos)
    }
}

// Typed accessors. They throw JsonShapeException naming the JSON path, so that the caller
// can turn it into an asset error that tells the user which field is wrong.

fun JsonValue.asObject(path: String): JsonObject =
    this as? JsonObject ?: throw JsonShapeException(path, "must be an object, found ${kindOf(this)}")

fun JsonValue.asArray(path: String): JsonArray =
    this as? JsonArray ?: throw JsonShapeException(path, "must be an array, found ${kindOf(this)}")

fun JsonValue.asString(path: String): String =
    (this as? JsonString)?.value ?: throw JsonShapeException(path, "must be a string, found ${kindOf(this)}")

fun JsonValue.asLong(path: String): Long {
    val number = this as? JsonNumber ?: throw JsonShapeException(path, "must be an integer, found ${kindOf(this)}")
    return number.toLongOrNull() ?: throw JsonShapeException(path, "must be an integer, found ${number.text}")
}

fun JsonValue.asInt(path: String): Int {
    val value = asLong(path)
    if (value !in Int.MIN_VALUE..Int.MAX_VALUE) throw JsonShapeException(path, "is out of range: $value")
    return value.toInt()
}

fun JsonValue.asDouble(path: String): Double =
    (this as? JsonNumber)?.toDouble() ?: throw JsonShapeException(path, "must be a number, found ${kindOf(this)}")

fun JsonObject.required(key: String, path: String): JsonValue =
    members[key] ?: throw JsonShapeException("$path.$key", "is missing")

/** The member, or null when it is absent or JSON `null`. */
fun JsonObject.optional(key: String): JsonValue? = members[key]?.takeUnless { it == JsonNull }

internal fun kindOf(value: JsonValue): String = when (value) {
    is JsonObject -> "an object"
    is JsonArray -> "an array"
    is JsonString -> "a string"
    is JsonNumber -> "the number ${value.text}"
    is JsonBoolean -> value.value.toString()
    JsonNull -> "null"
}
