package io.github.tflitelowrank.demo

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.imePadding
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import io.github.tflitelowrank.demo.core.AssetBundle
import io.github.tflitelowrank.demo.core.BenchmarkConfig
import io.github.tflitelowrank.demo.core.BenchmarkProgress
import io.github.tflitelowrank.demo.core.DeviceInfo
import io.github.tflitelowrank.demo.core.FailureReport
import io.github.tflitelowrank.demo.core.LabelComparison
import io.github.tflitelowrank.demo.core.ModelAnswer
import io.github.tflitelowrank.demo.core.ReportRow
import io.github.tflitelowrank.demo.core.ReportTable
import io.github.tflitelowrank.demo.core.TextClassification
import io.github.tflitelowrank.demo.core.TimingSource
import io.github.tflitelowrank.demo.core.compare
import java.util.Locale

/** Test tags used by the instrumentation tests. */
object Tags {
    const val ERROR = "asset_error"
    const val TEXT = "text_input"
    const val RESULT = "classification"
    const val RESULT_TEXT = "classified_text"
    const val TOKENS = "classified_tokens"
    const val CLASSIFY_ERROR = "classify_error"
    const val RUN = "run_benchmark"
    const val TABLE = "benchmark_table"
    const val BENCHMARK_ERROR = "benchmark_error"
    const val STOPPED = "benchmark_stopped"
    const val SHARE = "share_markdown"
    const val COPY = "copy_markdown"
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun DemoScreen(
    state: DemoUiState,
    onTextChange: (String) -> Unit,
    onRunBenchmark: () -> Unit,
    onShare: (String) -> Unit,
    onCopy: (String) -> Unit,
) {
    Scaffold(topBar = { TopAppBar(title = { Text("Baseline vs low-rank") }) }) { padding ->
        Column(
            modifier = Modifier
                .fillMaxSize()
                .padding(padding)
                .imePadding()
                .verticalScroll(rememberScrollState())
                .padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            when (val assets = state.assets) {
                AssetsState.Loading -> Row(verticalAlignment = Alignment.CenterVertically) {
                    CircularProgressIndicator()
                    Spacer(Modifier.width(16.dp))
                    Text("Checking the assets (sha256, vocabulary, shapes) and loading the models…")
                }
                is AssetsState.Failed -> ErrorCard(
                    assets.failure,
                    Tags.ERROR,
                    "The app needs baseline.tflite, compressed.tflite, vocab.txt, labels.txt, " +
                        "manifest.json, test_set.tsv and golden.jsonl in android_demo/app/src/main/assets.",
                )
                is AssetsState.Ready -> {
                    ModelsCard(assets.bundle)
                    OutlinedTextField(
                        value = state.text,
                        onValueChange = onTextChange,
                        label = { Text("Type a sentence") },
                        enabled = state.benchmark !is BenchmarkState.Running,
                        modifier = Modifier.fillMaxWidth().testTag(Tags.TEXT),
                        minLines = 2,
                    )
                    state.classifyError?.let { ErrorCard(it, Tags.CLASSIFY_ERROR) }
                    state.classification?.let { ClassificationCard(it, assets.bundle) }
                    BenchmarkCard(state.benchmark, state.device, assets.bundle, onRunBenchmark, onShare, onCopy)
                }
            }
        }
    }
}

/** A red card: what failed, what to do, and the chain of causes. */
@Composable
private fun ErrorCard(failure: FailureReport, tag: String, footer: String? = null) {
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer),
        modifier = Modifier.fillMaxWidth().testTag(tag),
    ) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(failure.title, style = MaterialTheme.typography.titleMedium, fontWeight = FontWeight.Bold)
            Text(failure.message, style = MaterialTheme.typography.bodyMedium)
            if (failure.causes.isNotEmpty()) {
                Text(
                    "Cause: " + failure.causes.joinToString("\n  ← "),
                    style = MaterialTheme.typography.bodySmall,
                    fontFamily = FontFamily.Monospace,
                )
            }
            footer?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
        }
    }
}

@Composable
private fun ModelsCard(bundle: AssetBundle) {
    val manifest = bundle.manifest
    val labels = bundle.labels.names
    val labelText = if (labels.size <= 6) labels.joinToString() else "${labels.take(4).joinToString()} … (${labels.size})"
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("Models", style = MaterialTheme.typography.titleMedium)
            for (model in manifest.models.values) {
                Text(
                    "${model.key}: ${model.file}, ${ReportTable.formatBytes(model.sizeBytes)}, " +
                        ReportTable.describeModel(model),
                    style = MaterialTheme.typography.bodyMedium,
                )
            }
            Text(
                "seq_len ${manifest.seqLen} · vocabulary ${manifest.vocabSize} · " +
                    "labels $labelText · ${bundle.testSet.size} test sentences",
                style = MaterialTheme.typography.bodySmall,
            )
        }
    }
}

@Composable
private fun ClassificationCard(result: TextClassification, bundle: AssetBundle) {
    val comparison = result.compare(bundle.labels)
    val colors = if (comparison.modelsAgree) {
        CardDefaults.cardColors()
    } else {
        CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.tertiaryContainer)
    }
    Card(Modifier.fillMaxWidth().testTag(Tags.RESULT), colors = colors) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(
                "Classified: \u201c${result.text}\u201d",
                style = MaterialTheme.typography.bodySmall,
                modifier = Modifier.testTag(Tags.RESULT_TEXT),
            )
            Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                for (answer in result.answers) AnswerHeadline(answer, Modifier.weight(1f))
            }
            Verdict(comparison, result)
            LabelTable(comparison, result)
            val unknown = result.tokenIds.count { it == 1 }
            val truncated = if (result.truncatedTokens > 0) ", ${result.truncatedTokens} cut off" else ""
            Text(
                "${result.tokens.size} tokens ($unknown unknown$truncated): " +
                    result.tokens.take(bundle.manifest.seqLen).joinToString(" "),
                style = MaterialTheme.typography.bodySmall,
                fontFamily = FontFamily.Monospace,
                modifier = Modifier.testTag(Tags.TOKENS),
            )
        }
    }
}

@Composable
private fun AnswerHeadline(answer: ModelAnswer, modifier: Modifier) {
    Column(modifier, verticalArrangement = Arrangement.spacedBy(2.dp)) {
        Text(answer.key, style = MaterialTheme.typography.labelLarge)
        Text(answer.labelName, style = MaterialTheme.typography.titleLarge, fontWeight = FontWeight.Bold)
        Text(percent(answer.probabilities[answer.label]), style = MaterialTheme.typography.bodyMedium)
        val what = if (answer.timing == TimingSource.NATIVE_INVOKE) "invoke()" else "whole call"
        Text("${ReportTable.formatDuration(answer.latencyMillis)} $what", style = MaterialTheme.typography.bodySmall)
    }
}

/** Agreement, and the label on which the two models' probabilities differ most. */
@Composable
private fun Verdict(comparison: LabelComparison, result: TextClassification) {
    val answers = result.answers
    val verdict = if (comparison.modelsAgree) {
        "Both models predict ${answers.first().labelName}."
    } else {
        "The models disagree: " + answers.joinToString(", ") { "${it.key} says ${it.labelName}" } + "."
    }
    Text(verdict, style = MaterialTheme.typography.bodyMedium, fontWeight = FontWeight.Bold)
    if (answers.size >= 2) {
        val largest = comparison.largestDifference
        Text(
            "Largest difference: ${largest.name}, ${answers.last().key} ${points(largest.delta)} " +
                "vs ${answers.first().key} (${percent(largest.probabilities.first())} → ${percent(largest.probabilities.last())}).",
            style = MaterialTheme.typography.bodySmall,
        )
    }
}

/** A few labels (all of a small set, the top ones of a large set), one column per model. */
@Composable
private fun LabelTable(comparison: LabelComparison, result: TextClassification) {
    val keys = result.answers.map { it.key }
    Column(Modifier.fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(4.dp)) {
        TableRow(listOf("label") + keys + listOf("Δ"), bold = true)
        HorizontalDivider()
        for (row in comparison.rows) {
            val predicted = row.index in comparison.predicted
            TableRow(
                listOf(row.name) + row.probabilities.map(::percent) + listOf(points(row.delta)),
                bold = predicted,
            )
            Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                for (p in row.probabilities) {
                    LinearProgressIndicator(progress = { p.coerceIn(0f, 1f) }, modifier = Modifier.weight(1f))
                }
            }
        }
        if (comparison.hiddenLabels > 0) {
            Text(
                "Showing each model's top ${LabelComparison.TOP_K} labels and the largest difference; " +
                    "${comparison.hiddenLabels} of ${comparison.numLabels} labels not shown.",
                style = MaterialTheme.typography.bodySmall,
            )
        }
        Text(
            "Bold: a model's predicted label. Δ: ${keys.last()} minus ${keys.first()}, in percentage points.",
            style = MaterialTheme.typography.bodySmall,
        )
    }
}

@Composable
private fun BenchmarkCard(
    state: BenchmarkState,
    device: DeviceInfo?,
    bundle: AssetBundle,
    onRunBenchmark: () -> Unit,
    onShare: (String) -> Unit,
    onCopy: (String) -> Unit,
) {
    val config = BenchmarkConfig()
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Benchmark", style = MaterialTheme.typography.titleMedium)
            Text(
                "Loads each model afresh (load: map the file, create the interpreter with XNNPACK, " +
                    "allocate its tensors), times its first inference, runs ${config.warmupRuns} warm-ups, then " +
                    "${config.passes} passes over the ${bundle.testSet.size} test sentences, alternating which " +
                    "model goes first. Latency is LiteRT's native invoke() only: the token ids are written " +
                    "into a reused buffer before it and the probabilities read after it, outside the timing, " +
                    "as the desktop benchmark times invoke(). Leaving the screen stops the run.",
                style = MaterialTheme.typography.bodySmall,
            )
            device?.let { DeviceLines(it) }
            Button(
                onClick = onRunBenchmark,
                enabled = state !is BenchmarkState.Running,
                modifier = Modifier.testTag(Tags.RUN),
            ) { Text(if (state is BenchmarkState.Done) "Run again" else "Run benchmark") }
            when (state) {
                BenchmarkState.Idle -> Unit
                is BenchmarkState.Running -> Progress(state.progress)
                is BenchmarkState.Stopped -> Text(
                    state.reason,
                    color = MaterialTheme.colorScheme.error,
                    style = MaterialTheme.typography.bodyMedium,
                    modifier = Modifier.testTag(Tags.STOPPED),
                )
                is BenchmarkState.Failed -> ErrorCard(state.failure, Tags.BENCHMARK_ERROR)
                is BenchmarkState.Done -> {
                    ResultsTable(state.header, state.rows)
                    Text(
                        "Latency: ${state.report.timing.describe()}, ${state.report.models.first().latency.count} " +
                            "timed runs per model. Percentiles interpolate linearly (numpy's default); " +
                            "p50 by pass shows drift between passes. Memory Δ is the change in the process " +
                            "PSS across load and warm-up.",
                        style = MaterialTheme.typography.bodySmall,
                    )
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        OutlinedButton(onClick = { onShare(state.markdown) }, modifier = Modifier.testTag(Tags.SHARE)) {
                            Text("Share as Markdown")
                        }
                        OutlinedButton(onClick = { onCopy(state.markdown) }, modifier = Modifier.testTag(Tags.COPY)) {
                            Text("Copy")
                        }
                    }
                }
            }
        }
    }
}

@Composable
private fun DeviceLines(device: DeviceInfo) {
    Column(verticalArrangement = Arrangement.spacedBy(2.dp)) {
        for ((label, value) in device.lines()) {
            Text("$label: $value", style = MaterialTheme.typography.bodySmall)
        }
        if (device.likelyEmulator) {
            Text(
                "This looks like an emulator: its timings say nothing about a phone.",
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.error,
            )
        }
    }
}

@Composable
private fun Progress(progress: BenchmarkProgress?) {
    if (progress == null) {
        LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
        Text("Starting…", style = MaterialTheme.typography.bodySmall)
        return
    }
    LinearProgressIndicator(progress = { progress.fraction }, modifier = Modifier.fillMaxWidth())
    Text(progress.describe(), style = MaterialTheme.typography.bodySmall)
}

@Composable
private fun ResultsTable(header: List<String>, rows: List<ReportRow>) {
    Column(Modifier.fillMaxWidth().testTag(Tags.TABLE)) {
        TableRow(header, bold = true)
        HorizontalDivider()
        for (row in rows) {
            TableRow(listOf(row.metric) + row.cells, bold = false)
            Spacer(Modifier.height(2.dp))
        }
    }
}

@Composable
private fun TableRow(cells: List<String>, bold: Boolean) {
    Row(Modifier.fillMaxWidth().padding(vertical = 2.dp)) {
        cells.forEachIndexed { index, cell ->
            Text(
                cell,
                modifier = Modifier.weight(if (index == 0) 1.1f else 1f),
                style = MaterialTheme.typography.bodySmall,
                fontWeight = if (bold || index == 0) FontWeight.Bold else FontWeight.Normal,
                textAlign = if (index == 0) TextAlign.Start else TextAlign.End,
            )
        }
    }
}

private fun percent(probability: Float): String = String.format(Locale.ROOT, "%.1f %%", probability * 100)

private fun points(delta: Float): String = String.format(Locale.ROOT, "%+.1f pt", delta * 100)
