"""`triage`: one command line for serving, transcribing, training, evaluating and benchmarking.

Each concern registers its commands from its own module (cli/<concern>.py) so the modules stay
small; heavy libraries are imported inside commands, so `triage --help` stays instant.
"""

from __future__ import annotations

import typer

from cli import (
    agent_cmds,
    asr_cmds,
    call_cmds,
    emergency_cmds,
    eval_cmds,
    kb_cmds,
    nlu_cmds,
    report_cmds,
    scale_cmds,
    security_cmds,
    service_cmds,
    staffing_cmds,
    tts_cmds,
)
from cli.groups import CommandGroups

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="hotline-triage: a voice bot for public-service hotlines (serve, transcribe, train, evaluate).",
)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: print figures and write a flat JSON.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a stage on your own labelled data.")
nlu_app = typer.Typer(no_args_is_help=True, help="Train and query the intent and urgency classifier.")
kb_app = typer.Typer(no_args_is_help=True, help="Manage and search the knowledge base.")
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")
app.add_typer(nlu_app, name="nlu")
app.add_typer(kb_app, name="kb")

groups = CommandGroups(root=app, bench=bench_app, eval=eval_app, nlu=nlu_app, kb=kb_app)
for module in (
    service_cmds,
    asr_cmds,
    nlu_cmds,
    emergency_cmds,
    kb_cmds,
    tts_cmds,
    call_cmds,
    agent_cmds,
    eval_cmds,
    report_cmds,
    staffing_cmds,
    security_cmds,
    scale_cmds,
):
    module.register(groups)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
