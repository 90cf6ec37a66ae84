package io.github.tflitelowrank.demo

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import io.github.tflitelowrank.demo.core.AssetBundle
import io.github.tflitelowrank.demo.core.BenchmarkConfig
import io.github.tflitelowrank.demo.core.BenchmarkProgress
import io.github.tflitelowrank.demo.core.BenchmarkReport
import io.github.tflitelowrank.demo.core.BenchmarkRunner
import io.github.tflitelowrank.demo.core.Classifier
import io.github.tflitelowrank.demo.core.DeviceInfo
import io.github.tflitelowrank.demo.core.EncodedExample
import io.github.tflitelowrank.demo.core.FailureReport
import io.github.tflitelowrank.demo.core.Manifest
import io.github.tflitelowrank.demo.core.MarkdownReport
import io.github.tflitelowrank.demo.core.ModelUnderTest
import io.github.tflitelowrank.demo.core.ReportRow
import io.github.tflitelowrank.demo.core.ReportTable
import io.github.tflitelowrank.demo.core.TestSetReader
import io.github.tflitelowrank.demo.core.TextClassification
import io.github.tflitelowrank.demo.core.classifyText
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone
import java.util.concurrent.Executors

/** Whether the assets and models could be loaded; [Failed] carries the error card. */
sealed interface AssetsState {
    data object Loading : AssetsState

    data class Failed(val failure: FailureReport) : AssetsState

    data class Ready(val bundle: AssetBundle) : AssetsState
}

sealed interface BenchmarkState {
    data object Idle : BenchmarkState

    data class Running(val progress: BenchmarkProgress?) : BenchmarkState

    data class Done(
        val header: List<String>,
        val rows: List<ReportRow>,
        val report: BenchmarkReport,
        /** The results as Markdown, for the share and copy buttons ([MarkdownReport]). */
        val markdown: String,
    ) : BenchmarkState

    /** Stopped on purpose (the app left the screen); nothing was measured to show. */
    data class Stopped(val reason: String) : BenchmarkState

    data class Failed(val failure: FailureReport) : BenchmarkState
}

data class DemoUiState(
    val assets: AssetsState = AssetsState.Loading,
    val text: String = "",
    val classification: TextClassification? = null,
    val classifyError: FailureReport? = null,
    val benchmark: BenchmarkState = BenchmarkState.Idle,
    /** This phone, LiteRT and the thread count, once known. */
    val device: DeviceInfo? = null,
)

/**
 * Loads and checks the assets once, keeps one interpreter per model for the text box, and
 * runs the benchmark with fresh interpreters (so that load time and memory are measured).
 *
 * Threads: the text-box interpreters are only used on [interactive], a one-thread view of
 * the default dispatcher; the benchmark creates, runs and closes its interpreters on its
 * own thread ([benchmarkThread]), never shared with other work.
 *
 * Every failure, `Error`s included, ends in an error card ([FailureReport]); none crashes
 * the app.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class DemoViewModel(application: Application) : AndroidViewModel(application) {
    private val assets = application.assets
    private val interactive = Dispatchers.Default.limitedParallelism(1)
    private val benchmarkThread = Executors.newSingleThreadExecutor { runnable ->
        Thread(runnable, "litert-benchmark")
    }.asCoroutineDispatcher()
    private val _state = MutableStateFlow(DemoUiState())
    val state: StateFlow<DemoUiState> = _state.asStateFlow()

    private var bundle: AssetBundle? = null
    private var encodedTestSet: List<EncodedExample> = emptyList()

    // Touched only on `interactive`.
    private var classifiers: List<Classifier> = emptyList()
    private var reopenFailure: FailureReport? = null
    private var cleared = false

    // Touched only on the main thread.
    private var classifyJob: Job? = null
    private var benchmarkJob: Job? = null
    private var stopReason: String? = null

    init {
        viewModelScope.launch { loadAssets() }
    }

    private suspend fun loadAssets() {
        val loaded = guarded("reading and checking the assets", ::failLoading) {
            withContext(Dispatchers.IO) { AssetBundle.load(AndroidAssetSource(assets)) }
        } ?: return
        guarded("loading the models into LiteRT", ::failLoading) {
            withContext(interactive) { openInteractiveClassifiers(loaded) }
        } ?: return
        val encoded = guarded("tokenizing the test set", ::failLoading) {
            withContext(Dispatchers.Default) { TestSetReader.encode(loaded.testSet, loaded.tokenizer) }
        } ?: return
        // The native library is loaded by now, so LiteRT can report its version.
        val device = guarded("reading the device information", {}) {
            withContext(Dispatchers.Default) { AndroidDevice.info() }
        }
        bundle = loaded
        encodedTestSet = encoded
        _state.update { it.copy(assets = AssetsState.Ready(loaded), device = device) }
        val first = loaded.golden.firstOrNull()?.text ?: loaded.testSet.firstOrNull()?.text ?: ""
        onTextChange(first)
    }

    private fun failLoading(failure: FailureReport) {
        _state.update { it.copy(assets = AssetsState.Failed(failure)) }
    }

    private fun openInteractiveClassifiers(loaded: AssetBundle) {
        if (cleared) return
        val opened = ArrayList<Classifier>()
        try {
            for (key in Manifest.MODEL_KEYS) {
                opened += LiteRtClassifier.load(assets, loaded.manifest.models.getValue(key), loaded.manifest)
            }
        } catch (e: Throwable) {
            opened.forEach { it.close() }
            throw e
        }
        classifiers = opened
    }

    /** Classifies [text] with both models, 150 ms after the last keystroke. */
    fun onTextChange(text: String) {
        _state.update { it.copy(text = text) }
        val loaded = bundle ?: return
        classifyJob?.cancel()
        classifyJob = viewModelScope.launch {
            delay(150)
            val result = runCatching {
                withContext(interactive) {
                    if (classifiers.isEmpty()) {
                        throw IllegalStateException(
                            "the models are not loaded" + (reopenFailure?.let { ": ${it.message}" } ?: ""),
                        )
                    }
                    classifyText(text, loaded.tokenizer, loaded.labels, classifiers)
                }
            }
            result.exceptionOrNull()?.let { if (it is CancellationException) throw it }
            _state.update {
                it.copy(
                    classification = result.getOrNull() ?: it.classification,
                    classifyError = result.exceptionOrNull()?.let { e -> FailureReport.from("classifying the text", e) },
                )
            }
        }
    }

    /**
     * Benchmarks both models on the bundled test set, on [benchmarkThread]. The text-box
     * interpreters are closed meanwhile, so only the two benchmarked models are loaded.
     */
    fun runBenchmark(config: BenchmarkConfig = BenchmarkConfig()) {
        val loaded = bundle ?: return
        if (benchmarkJob?.isActive == true) return
        stopReason = null
        // A pending text-box classification would find its interpreters closed; the text is
        // classified again when the benchmark ends.
        classifyJob?.cancel()
        _state.update { it.copy(benchmark = BenchmarkState.Running(null), classifyError = null) }
        benchmarkJob = viewModelScope.launch {
            try {
                withContext(interactive) { closeInteractiveClassifiers() }
                val report = withContext(benchmarkThread) {
                    val job = coroutineContext.job
                    val models = Manifest.MODEL_KEYS.map { key ->
                        val entry = loaded.manifest.models.getValue(key)
                        ModelUnderTest(key, entry.sizeBytes) { LiteRtClassifier.load(assets, entry, loaded.manifest) }
                    }
                    BenchmarkRunner(config, memory = PssMemoryProbe).run(models, encodedTestSet, loaded.manifest.numLabels) { progress ->
                        job.ensureActive()
                        _state.update { it.copy(benchmark = BenchmarkState.Running(progress)) }
                    }
                }
                val markdown = MarkdownReport.render(report, loaded.manifest, _state.value.device, utcNow())
                val done = BenchmarkState.Done(
                    ReportTable.header(report),
                    ReportTable.rows(report, loaded.manifest),
                    report,
                    markdown,
                )
                _state.update { it.copy(benchmark = done) }
            } catch (e: CancellationException) {
                val reason = stopReason
                _state.update { it.copy(benchmark = if (reason != null) BenchmarkState.Stopped(reason) else BenchmarkState.Idle) }
                throw e
            } catch (e: Throwable) {
                _state.update { it.copy(benchmark = BenchmarkState.Failed(FailureReport.from("running the benchmark", e))) }
            } finally {
                val active = withContext(NonCancellable + interactive) {
                    if (classifiers.isEmpty() && !cleared) {
                        reopenFailure = try {
                            openInteractiveClassifiers(loaded)
                            null
                        } catch (e: Throwable) {
                            FailureReport.from("reloading the models for the text box", e)
                        }
                    }
                    !cleared
                }
                // Shows the text's result again, or the card of a failed reload.
                if (active) onTextChange(_state.value.text)
            }
        }
    }

    /**
     * The activity went to the background (or the screen went off): a background app gets
     * less CPU and may be throttled, so a running benchmark is stopped and discarded rather
     * than finishing with numbers that mean something else.
     */
    fun onAppBackgrounded() {
        val job = benchmarkJob ?: return
        if (!job.isActive) return
        val where = (_state.value.benchmark as? BenchmarkState.Running)?.progress?.describe()
        stopReason = "The app left the screen" + (where?.let { " during \"$it\"" } ?: "") +
            ". A background app gets less CPU time, so the run was stopped and nothing was kept. " +
            "Run the benchmark again and keep the app in front until the table appears."
        job.cancel()
    }

    private fun closeInteractiveClassifiers() {
        classifiers.forEach { it.close() }
        classifiers = emptyList()
    }

    override fun onCleared() {
        benchmarkJob?.cancel()
        classifyJob?.cancel()
        // Close on the interpreters' own thread; `cleared` stops a finishing benchmark
        // from opening them again.
        runBlocking(interactive) {
            cleared = true
            closeInteractiveClassifiers()
        }
        // Lets a running benchmark step finish (it stops at its next progress report), then ends the thread.
        benchmarkThread.close()
        super.onCleared()
    }

    private companion object {
        /** Runs [block]; any failure but cancellation becomes a [FailureReport] for [onFailure], and null. */
        inline fun <T> guarded(stage: String, onFailure: (FailureReport) -> Unit, block: () -> T): T? = try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Throwable) {
            onFailure(FailureReport.from(stage, e))
            null
        }

        /** `2025-06-01T12:00:00Z`; java.time needs API 26, the app supports 24. */
        fun utcNow(): String = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT)
            .apply { timeZone = TimeZone.getTimeZone("UTC") }
            .format(Date())
    }
}
