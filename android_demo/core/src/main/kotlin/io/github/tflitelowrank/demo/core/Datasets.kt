package io.github.tflitelowrank.demo.core

/** One line of `test_set.tsv`: the class index (from its label name) and the raw text. */
data class LabelledExample(val label: Int, val text: String)

/** A labelled example with its model input already computed. */
class EncodedExample(val label: Int, val tokenIds: IntArray)

/**
 * Reads `test_set.tsv`: one example per line, `label<TAB>text`, where `label` is a line of
 * `labels.txt` and `text` is everything after the first tab (the exporter turns tabs and
 * newlines inside a text into spaces, which the tokenizer treats the same way).
 */
object TestSetReader {
    fun parse(text: String, labels: Labels, file: String = Manifest.TEST_SET_FILE): List<LabelledExample> {
        val body = if (text.endsWith('\n')) text.dropLast(1) else text
        if (body.isEmpty()) throw AssetException.InvalidDataFile(file, 0, "the file has no examples")
        val indexByName = labels.names.withIndex().associate { (index, name) -> name to index }
        return body.split('\n').mapIndexed { i, line ->
            val tab = line.indexOf('\t')
            if (tab < 0) {
                throw AssetException.InvalidDataFile(file, i + 1, "expected `label<TAB>text`, found no tab")
            }
            val name = line.substring(0, tab)
            val label = indexByName[name] ?: throw AssetException.InvalidDataFile(
                file,
                i + 1,
                "label `$name` is not in labels.txt (${labels.names.joinToString()})",
            )
            LabelledExample(label, line.substring(tab + 1))
        }
    }

    fun encode(examples: List<LabelledExample>, tokenizer: Tokenizer): List<EncodedExample> =
        examples.map { EncodedExample(it.label, tokenizer.encode(it.text)) }
}

/** One line of `golden.jsonl`: the Python side's token ids and per-model probabilities. */
data class GoldenExample(
    val text: String,
    val label: Int,
    val tokenIds: List<Int>,
    /** Model key (`baseline`, `compressed`) to the probabilities Python's LiteRT computed. */
    val probabilities: Map<String, List<Double>>,
)

object GoldenReader {
    fun parse(text: String, manifest: Manifest, file: String = Manifest.GOLDEN_FILE): List<GoldenExample> {
        val lines = text.split('\n').withIndex().filter { it.value.isNotBlank() }
        if (lines.isEmpty()) throw AssetException.InvalidDataFile(file, 0, "the file has no examples")
        return lines.map { (i, line) ->
            try {
                parseLine(line, manifest)
            } catch (e: JsonParseException) {
                throw AssetException.InvalidDataFile(file, i + 1, "not valid JSON (${e.message})")
            } catch (e: JsonShapeException) {
                throw AssetException.InvalidDataFile(file, i + 1, e.message ?: "wrong shape")
            }
        }
    }

    private fun parseLine(line: String, manifest: Manifest): GoldenExample {
        val json = Json.parse(line).asObject("line")
        val label = json.required("label", "line").asInt("line.label")
        if (label !in 0 until manifest.numLabels) {
            throw JsonShapeException("line.label", "must be a class index below ${manifest.numLabels}, found $label")
        }
        val ids = json.required("token_ids", "line").asArray("line.token_ids").items
            .mapIndexed { k, v -> v.asInt("line.token_ids[$k]") }
        if (ids.size != manifest.seqLen) {
            throw JsonShapeException("line.token_ids", "must have seq_len=${manifest.seqLen} ids, found ${ids.size}")
        }
        val probsJson = json.required("probabilities", "line").asObject("line.probabilities")
        val probabilities = Manifest.MODEL_KEYS.associateWith { key ->
            val values = probsJson.required(key, "line.probabilities").asArray("line.probabilities.$key").items
                .mapIndexed { k, v -> v.asDouble("line.probabilities.$key[$k]") }
            if (values.size != manifest.numLabels) {
                throw JsonShapeException(
                    "line.probabilities.$key",
                    "must have num_labels=${manifest.numLabels} values, found ${values.size}",
                )
            }
            values
        }
        return GoldenExample(
            text = json.required("text", "line").asString("line.text"),
            label = label,
            tokenIds = ids,
            probabilities = probabilities,
        )
    }
}
