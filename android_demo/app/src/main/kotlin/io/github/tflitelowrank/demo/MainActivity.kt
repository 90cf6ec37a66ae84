package io.github.tflitelowrank.demo

import android.content.ActivityNotFoundException
import android.content.ClipData
import android.content.ClipboardManager
import android.content.Intent
import android.os.Build
import android.os.Bundle
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle

class MainActivity : ComponentActivity() {
    private val viewModel: DemoViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        setContent {
            MaterialTheme {
                val state by viewModel.state.collectAsStateWithLifecycle()
                DemoScreen(
                    state = state,
                    onTextChange = viewModel::onTextChange,
                    onRunBenchmark = { viewModel.runBenchmark() },
                    onShare = ::share,
                    onCopy = ::copy,
                )
            }
        }
    }

    override fun onStop() {
        super.onStop()
        // Leaving the screen stops a running benchmark; a rotation (the activity is
        // recreated, the ViewModel and its run survive) does not.
        if (!isChangingConfigurations) viewModel.onAppBackgrounded()
    }

    /** Offers the Markdown results to any app that takes text (mail, chat, notes). */
    private fun share(markdown: String) {
        val send = Intent(Intent.ACTION_SEND)
            .setType("text/plain")
            .putExtra(Intent.EXTRA_SUBJECT, "tflite_lowrank on-device benchmark")
            .putExtra(Intent.EXTRA_TEXT, markdown)
        try {
            startActivity(Intent.createChooser(send, "Share the results"))
        } catch (e: ActivityNotFoundException) {
            copy(markdown)
        }
    }

    private fun copy(markdown: String) {
        val clipboard = getSystemService(ClipboardManager::class.java)
        if (clipboard == null) {
            Toast.makeText(this, "No clipboard on this device", Toast.LENGTH_SHORT).show()
            return
        }
        clipboard.setPrimaryClip(ClipData.newPlainText("benchmark results (Markdown)", markdown))
        // Android 13 and later confirm a copy themselves.
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) {
            Toast.makeText(this, "Results copied as Markdown", Toast.LENGTH_SHORT).show()
        }
    }
}
