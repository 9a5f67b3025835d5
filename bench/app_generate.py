"""Click Generate → video ready, through the running app's own API, with the time of each stage.

    python bench/app_generate.py [--checkpoints checkpoints] [--sessions 1 4]

Starts the app on 127.0.0.1 with the given checkpoints, then for each session count N runs N
gradio_client sessions that press Generate at once (default settings: 25 DPM-Solver++ steps, 16
frames) and prints each one's wall time; the service's own stage times (sampling, decoding, saving,
rendering) are printed for the single-session run. Target (issue 5): ≤ 15 s for one session on 2 cores.
With `--untrained-dit`, a randomly initialised DiT stands in (same computation, meaningless scenes),
so the timing can be taken before a DiT is trained.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.api import SceneGenerator  # noqa: E402
from core.types import ProgressEvent  # noqa: E402


class TimedGenerator(SceneGenerator):
    """Records when each progress stage starts, to split a Generate into stages."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.marks: list[tuple[str, float]] = []

    def generate(self, request, on_progress=None):
        def timed(event: ProgressEvent) -> None:
            if not self.marks or self.marks[-1][0] != event.stage:
                self.marks.append((event.stage, time.perf_counter()))
            if on_progress:
                on_progress(event)

        self.marks = [("start", time.perf_counter())]
        scene = super().generate(request, timed)
        self.marks.append(("saving+rendering", time.perf_counter()))
        return scene


def checkpoints_with_untrained_dit(folder: Path) -> Path:
    from core.checkpoint import load_bundle, save_bundle
    from core.config import dit_preset
    from core.models.dit import HexPlaneDiT

    target = Path(tempfile.mkdtemp(prefix="bench-ckpt-"))
    shutil.copytree(folder / "vae_cpu", target / "vae_cpu")
    vae = load_bundle(folder / "vae_cpu", kind="hexplane-vae")
    dit = HexPlaneDiT(dit_preset("cpu", latent_channels=vae.config.latent_channels, latent_sizes=vae.config.latent_sizes))
    save_bundle(dit, target / "dit_cpu", kind="hexplane-dit")
    return target


def press_generate(url: str, results: list, index: int) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    client.predict(api_name="/on_generate")
    results[index] = time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--untrained-dit", action="store_true")
    parser.add_argument("--sessions", type=int, nargs="*", default=[1, 4])
    args = parser.parse_args()
    print(f"command: python bench/app_generate.py {' '.join(sys.argv[1:])}")
    from app import build_demo
    from app.handlers import SESSIONS_ROOT
    from launch import free_port

    folder = Path(args.checkpoints)
    service = TimedGenerator(checkpoints=checkpoints_with_untrained_dit(folder) if args.untrained_dit else folder)
    demo = build_demo(service)
    demo.queue(default_concurrency_limit=1, max_size=16)
    port = free_port("127.0.0.1")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(SESSIONS_ROOT)])
    url = f"http://127.0.0.1:{port}/"
    press_generate(url, [None], 0)  # warm-up: loads the models once, as the app does on first use
    for sessions in args.sessions:
        results: list = [None] * sessions
        threads = [threading.Thread(target=press_generate, args=(url, results, i)) for i in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"{sessions} session(s) at once: " + ", ".join(f"{t:.1f} s" for t in results))
        if sessions == 1:
            marks = service.marks + [("end", time.perf_counter())]
            stages = [f"{name} {end - begin:.2f} s" for (name, begin), (_, end) in zip(marks[1:], marks[2:])]
            print("  stages: " + ", ".join(stages))
    demo.close()


if __name__ == "__main__":
    main()
