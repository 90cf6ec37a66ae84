package io.github.tflitelowrank.demo.core

import java.io.ByteArrayOutputStream
import java.io.File
import java.io.InputStream
import java.nio.ByteBuffer
import java.nio.CharBuffer
import java.nio.charset.CodingErrorAction
import java.security.MessageDigest

/** Where the exported asset files are read from: a folder on the JVM, `AssetManager` on Android. */
interface AssetSource {
    /** Names the place for error messages, e.g. "the app assets (src/main/assets)". */
    val description: String

    /** Opens [name] for reading, or returns null if there is no such file. */
    fun openOrNull(name: String): InputStream?
}

/** Assets in a folder of the file system (JVM tests, or an assets folder checked on a desktop). */
class DirectoryAssetSource(val directory: File) : AssetSource {
    override val description: String get() = "the assets folder ${directory.path}"

    override fun openOrNull(name: String): InputStream? {
        val file = File(directory, name)
        return if (file.isFile) file.inputStream() else null
    }
}

/** A file's length and sha256 (lower-case hex), computed in one pass. */
data class FileDigest(val sizeBytes: Long, val sha256: String)

object AssetFiles {
    /** Hashes [name] from [source] in one streaming pass; throws [AssetException.MissingFile]. */
    fun digest(source: AssetSource, name: String): FileDigest {
        val digest = MessageDigest.getInstance("SHA-256")
        var size = 0L
        open(source, name).use { input ->
            val buffer = ByteArray(64 * 1024)
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                digest.update(buffer, 0, n)
                size += n
            }
        }
        return FileDigest(size, digest.digest().toHex())
    }

    /**
     * Reads [name] as strict UTF-8; throws [AssetException.MissingFile] or
     * [AssetException.InvalidDataFile] naming the line and byte offset of the first invalid sequence.
     */
    fun readText(source: AssetSource, name: String): String {
        val bytes = open(source, name).use { input ->
            ByteArrayOutputStream().also { input.copyTo(it) }.toByteArray()
        }
        return decodeUtf8(bytes, name)
    }

    /** [bytes] as strict UTF-8; an invalid sequence is an [AssetException.InvalidDataFile] of [name]. */
    fun decodeUtf8(bytes: ByteArray, name: String): String {
        val decoder = Charsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
        val input = ByteBuffer.wrap(bytes)
        val output = CharBuffer.allocate(bytes.size) // UTF-8 never has more chars than bytes.
        var result = decoder.decode(input, output, true)
        if (!result.isError) result = decoder.flush(output)
        if (result.isError) {
            val offset = input.position()
            val line = (0 until offset).count { bytes[it] == '\n'.code.toByte() } + 1
            val bad = (offset until minOf(bytes.size, offset + maxOf(1, result.length())))
                .joinToString(" ") { "0x%02X".format(bytes[it].toInt() and 0xFF) }
            throw AssetException.InvalidDataFile(
                name,
                line,
                "the file is not valid UTF-8 at byte offset $offset ($bad); save it as UTF-8",
            )
        }
        output.flip()
        return output.toString()
    }

    fun open(source: AssetSource, name: String): InputStream =
        source.openOrNull(name) ?: throw AssetException.MissingFile(name, source.description)

    fun sha256Hex(bytes: ByteArray): String = MessageDigest.getInstance("SHA-256").digest(bytes).toHex()

    private fun ByteArray.toHex(): String {
        val hex = "0123456789abcdef"
        val out = CharArray(size * 2)
        forEachIndexed { i, byte ->
            val v = byte.toInt() and 0xFF
            out[2 * i] = hex[v ushr 4]
            out[2 * i + 1] = hex[v and 0x0F]
        }
        return String(out)
    }
}
