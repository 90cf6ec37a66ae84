package io.github.tflitelowrank.demo.core

/**
 * Everything that can be wrong with the exported assets, as typed errors.
 *
 * [message] is written for the screen: it says what is wrong, which file it is about, and
 * what to do. [title] is a short heading for the same screen.
 */
sealed class AssetException(
    val title: String,
    message: String,
    cause: Throwable? = null,
) : Exception(message, cause) {

    /** A file the manifest (or the app) needs is not in the assets. */
    class MissingFile(val file: String, val where: String) : AssetException(
        "Asset missing",
        "`$file` is missing from $where. $EXPORT_HINT",
    )

    /** A file's bytes do not hash to the sha256 recorded in manifest.json. */
    class ChecksumMismatch(val file: String, val expected: String, val actual: String) : AssetException(
        "Asset changed since export",
        "`$file` does not match manifest.json: its sha256 is ${actual.take(12)}…, the manifest " +
            "expects ${expected.take(12)}…. The file was edited or comes from another export. $EXPORT_HINT",
    )

    /** A file's length differs from the size recorded in manifest.json. */
    class SizeMismatch(val file: String, val expected: Long, val actual: Long) : AssetException(
        "Asset changed since export",
        "`$file` has $actual bytes but manifest.json expects $expected bytes. The file was truncated, " +
            "edited or comes from another export. $EXPORT_HINT",
    )

    /** manifest.json is not valid JSON or lacks a field or has a field of the wrong type. */
    class InvalidManifest(detail: String, cause: Throwable? = null) : AssetException(
        "Invalid manifest.json",
        "manifest.json is not a valid assets manifest: $detail. $EXPORT_HINT",
        cause,
    )

    /** The manifest was written for another version of the assets contract or tokenizer. */
    class UnsupportedVersion(val field: String, val found: String, val supported: String) : AssetException(
        "Assets from another version",
        "manifest.json has $field \"$found\" but this app supports \"$supported\". Export the assets " +
            "with a tflite_lowrank version that matches this app.",
    )

    /** vocab.txt breaks the vocabulary rules (pad and unk lines, no empty line, unique tokens). */
    class InvalidVocabulary(detail: String) : AssetException(
        "Invalid vocab.txt",
        "vocab.txt is invalid: $detail. $EXPORT_HINT",
    )

    /** The vocabulary does not have the size the manifest or a model was built for. */
    class VocabularyMismatch(val what: String, val expected: Int, val actual: Int) : AssetException(
        "Vocabulary does not match the model",
        "$what has $actual tokens but the manifest says vocab_size=$expected: token ids would " +
            "not match the embedding rows. vocab.txt and the models must come from the same run. $EXPORT_HINT",
    )

    /** labels.txt is invalid or its line count differs from the models' outputs. */
    class LabelMismatch(detail: String) : AssetException(
        "Labels do not match the model",
        "labels.txt does not match the models: $detail. $EXPORT_HINT",
    )

    /** A model's input or output tensor differs from the agreed `[1, seq_len]` / `[1, num_labels]`. */
    class ModelShapeMismatch(
        val model: String,
        val tensor: String,
        val expected: String,
        val actual: String,
    ) : AssetException(
        "Model has the wrong shape",
        "The $tensor of `$model` is $actual but the app needs $expected. The model was not exported " +
            "with `tflite_lowrank.convert_to_tflite` for this seq_len and label set. $EXPORT_HINT",
    )

    /** test_set.tsv or golden.jsonl cannot be read; [line] is 1-based, 0 for the whole file. */
    class InvalidDataFile(val file: String, val line: Int, detail: String) : AssetException(
        "Invalid $file",
        (if (line > 0) "$file line $line: " else "$file: ") + "$detail. $EXPORT_HINT",
    )

    /** A model file exists and matches the manifest but the runtime cannot load it. */
    class ModelLoadFailed(val model: String, detail: String, cause: Throwable? = null) : AssetException(
        "Model cannot be loaded",
        "`$model` could not be loaded by LiteRT: $detail. $EXPORT_HINT",
        cause,
    )

    companion object {
        /** The one command that repairs every asset problem. */
        const val EXPORT_HINT: String =
            "Export the assets again with `tflite-lowrank export-android RUN_DIR " +
                "android_demo/app/src/main/assets` and rebuild the app."
    }
}
