package io.github.tflitelowrank.demo.core

/** A tensor as the assets contract describes it: dtype name (`int32`, `float32`) and shape. */
data class TensorSpec(val name: String?, val dtype: String, val shape: List<Int>) {
    /** `int32 [1, 64]`, the form used in error messages and on screen. */
    fun describe(): String = "$dtype ${shape.joinToString(prefix = "[", postfix = "]")}"

    companion object {
        fun input(seqLen: Int): TensorSpec = TensorSpec(Manifest.INPUT_NAME, "int32", listOf(1, seqLen))

        fun output(numLabels: Int): TensorSpec = TensorSpec(null, "float32", listOf(1, numLabels))
    }
}

/** One `.tflite` file of the assets and what it is. */
data class ModelEntry(
    /** The key in `manifest.models`: `baseline` or `compressed`. */
    val key: String,
    val file: String,
    val sha256: String,
    val sizeBytes: Long,
    /** Rank of the factorized embedding, null for a full (baseline) embedding table. */
    val rank: Int?,
    /** `convert_to_tflite`'s `quantization` argument, null when not quantized. */
    val quantization: String?,
    /** Rows of the model's embedding table, null when the exporter could not find it. */
    val vocabSize: Int?,
    val input: TensorSpec,
    val output: TensorSpec,
)

/** A non-model file of the assets with its checksum. */
data class FileEntry(val file: String, val sha256: String, val sizeBytes: Long)

/**
 * `manifest.json`: what was exported and how to check it. See docs/contracts.md,
 * "Android assets". Parse with [Manifest.parse]; cross-file checks live in [AssetBundle].
 */
data class Manifest(
    val formatVersion: Int,
    val tokenizer: String,
    val seqLen: Int,
    val numLabels: Int,
    val vocabSize: Int,
    val models: Map<String, ModelEntry>,
    val files: Map<String, FileEntry>,
    val createdBy: String?,
) {
    val baseline: ModelEntry get() = models.getValue(BASELINE)
    val compressed: ModelEntry get() = models.getValue(COMPRESSED)

    /** Every file the manifest vouches for with its checksum, models first. */
    val checkedFiles: List<FileEntry>
        get() = models.values.map { FileEntry(it.file, it.sha256, it.sizeBytes) } + files.values

    companion object {
        const val FILE_NAME: String = "manifest.json"
        const val FORMAT_VERSION: Int = 1
        const val BASELINE: String = "baseline"
        const val COMPRESSED: String = "compressed"
        const val INPUT_NAME: String = "token_ids"
        const val VOCAB_FILE: String = "vocab.txt"
        const val LABELS_FILE: String = "labels.txt"
        const val TEST_SET_FILE: String = "test_set.tsv"
        const val GOLDEN_FILE: String = "golden.jsonl"

        /** Models the app compares, in display order. */
        val MODEL_KEYS: List<String> = listOf(BASELINE, COMPRESSED)

        /** Non-model files that must be listed under `files`. */
        val DATA_FILES: List<String> = listOf(VOCAB_FILE, LABELS_FILE, TEST_SET_FILE, GOLDEN_FILE)

        private val SHA256 = Regex("[0-9a-f]{64}")
        private val SAFE_FILE_NAME = Regex("[A-Za-z0-9._-]+")

        /**
         * Parses and checks the manifest on its own (types, required keys, positive sizes,
         * versions). Throws [AssetException.InvalidManifest] or [AssetException.UnsupportedVersion].
         */
        fun parse(text: String): Manifest {
            val root = try {
                Json.parse(text).asObject("manifest")
            } catch (e: JsonParseException) {
                throw AssetException.InvalidManifest("it is not valid JSON (${e.message})", e)
            } catch (e: JsonShapeException) {
                throw AssetException.InvalidManifest(e.message ?: "wrong shape", e)
            }
            try {
                return fromJson(root)
            } catch (e: JsonShapeException) {
                throw AssetException.InvalidManifest(e.message ?: "wrong shape", e)
            }
        }

        private fun fromJson(root: JsonObject): Manifest {
            val path = "manifest"
            val formatVersion = root.required("format_version", path).asInt("$path.format_version")
            if (formatVersion != FORMAT_VERSION) {
                throw AssetException.UnsupportedVersion("format_version", formatVersion.toString(), FORMAT_VERSION.toString())
            }
            val tokenizer = root.required("tokenizer", path).asString("$path.tokenizer")
            if (TokenizerMode.forVersion(tokenizer) == null) {
                val supported = TokenizerMode.entries.joinToString("\" or \"") { it.version }
                throw AssetException.UnsupportedVersion("tokenizer", tokenizer, supported)
            }
            val seqLen = positive(root.required("seq_len", path).asInt("$path.seq_len"), "$path.seq_len")
            val numLabels = positive(root.required("num_labels", path).asInt("$path.num_labels"), "$path.num_labels")
            val vocabSize = root.required("vocab_size", path).asInt("$path.vocab_size")
            if (vocabSize < 2) throw JsonShapeException("$path.vocab_size", "must be at least 2 (<pad> and <unk>), found $vocabSize")

            val modelsJson = root.required("models", path).asObject("$path.models")
            val models = LinkedHashMap<String, ModelEntry>()
            for (key in MODEL_KEYS) {
                val entry = modelsJson.required(key, "$path.models").asObject("$path.models.$key")
                models[key] = parseModel(key, entry, "$path.models.$key")
            }
            val filesJson = root.required("files", path).asObject("$path.files")
            val files = LinkedHashMap<String, FileEntry>()
            for (name in DATA_FILES) {
                val entry = filesJson.required(name, "$path.files").asObject("$path.files.$name")
                files[name] = FileEntry(
                    file = name,
                    sha256 = sha256(entry.required("sha256", "$path.files.$name"), "$path.files.$name.sha256"),
                    sizeBytes = size(entry.required("size_bytes", "$path.files.$name"), "$path.files.$name.size_bytes"),
                )
            }
            val modelFiles = models.values.map { it.file }
            if (modelFiles.toSet().size != modelFiles.size || modelFiles.any { it in files }) {
                throw JsonShapeException("$path.models", "must name two different model files, found $modelFiles")
            }
            return Manifest(
                formatVersion = formatVersion,
                tokenizer = tokenizer,
                seqLen = seqLen,
                numLabels = numLabels,
                vocabSize = vocabSize,
                models = models,
                files = files,
                createdBy = root.optional("created_by")?.asString("$path.created_by"),
            )
        }

        private fun parseModel(key: String, json: JsonObject, path: String): ModelEntry {
            val file = json.required("file", path).asString("$path.file")
            if (!SAFE_FILE_NAME.matches(file) || !file.endsWith(".tflite")) {
                throw JsonShapeException("$path.file", "must be a plain `.tflite` file name, found \"$file\"")
            }
            return ModelEntry(
                key = key,
                file = file,
                sha256 = sha256(json.required("sha256", path), "$path.sha256"),
                sizeBytes = size(json.required("size_bytes", path), "$path.size_bytes"),
                rank = json.optional("rank")?.asInt("$path.rank")?.let { positive(it, "$path.rank") },
                quantization = json.optional("quantization")?.asString("$path.quantization"),
                vocabSize = json.optional("vocab_size")?.asInt("$path.vocab_size"),
                input = tensor(json.required("input", path), "$path.input"),
                output = tensor(json.required("output", path), "$path.output"),
            )
        }

        private fun tensor(value: JsonValue, path: String): TensorSpec {
            val json = value.asObject(path)
            val shape = json.required("shape", path).asArray("$path.shape").items
                .mapIndexed { i, dim -> dim.asInt("$path.shape[$i]") }
            return TensorSpec(
                name = json.optional("name")?.asString("$path.name"),
                dtype = json.required("dtype", path).asString("$path.dtype"),
                shape = shape,
            )
        }

        private fun sha256(value: JsonValue, path: String): String {
            val text = value.asString(path)
            if (!SHA256.matches(text)) throw JsonShapeException(path, "must be 64 lower-case hex digits, found \"$text\"")
            return text
        }

        private fun size(value: JsonValue, path: String): Long {
            val bytes = value.asLong(path)
            if (bytes < 0) throw JsonShapeException(path, "must not be negative, found $bytes")
            return bytes
        }

        private fun positive(value: Int, path: String): Int {
            if (value <= 0) throw JsonShapeException(path, "must be a positive integer, found $value")
            return value
        }
    }
}
