"""Where a synth's time goes, for the synth row's note: `python -m bench.synth_worker <out.json> <env>`.

One fresh interpreter times its phases (importing aws_cdk, importing the stacks, building the app,
app.synth()), then builds and synthesizes the app twice more with the jsii runtime warm: once as
usual and once without the cdk-nag plugin (stacks.app_builder's add_checks made a no-op), so that
the difference is what the AwsSolutions checks cost.
"""

import json
import sys
import tempfile
import time
from pathlib import Path


def _build_and_synth(build_app, env: str) -> tuple[float, float]:
    start = time.perf_counter()
    app, _ = build_app({"env": env}, outdir=tempfile.mkdtemp(prefix="bench-phases-"))
    built = time.perf_counter()
    app.synth()
    return built - start, time.perf_counter() - built


def main() -> None:
    out, env = sys.argv[1], sys.argv[2]
    phases = {}
    start = time.perf_counter()
    import aws_cdk  # noqa: F401 (timed: the jsii runtime starts here)

    phases["import aws_cdk"] = time.perf_counter() - start
    start = time.perf_counter()
    from stacks import app_builder

    phases["import stacks"] = time.perf_counter() - start
    phases["build app"], phases["app.synth()"] = _build_and_synth(app_builder.build_app, env)
    warm_build, warm_synth = _build_and_synth(app_builder.build_app, env)
    app_builder.add_checks = lambda app: None
    bare_build, bare_synth = _build_and_synth(app_builder.build_app, env)
    phases["warm build + synth"] = warm_build + warm_synth
    phases["warm build + synth without cdk-nag"] = bare_build + bare_synth
    Path(out).write_text(json.dumps({name: round(seconds, 3) for name, seconds in phases.items()}))


if __name__ == "__main__":
    main()
