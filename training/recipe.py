"""Recipes: the lineage of a shipped model as data (`recipes/*.toml`), run by train.py.

    python train.py --config recipes/deployed.toml --dry-run        # the commands, checked
    python train.py --config recipes/deployed.toml --stage ft_fc    # one stage
    python train.py --config recipes/deployed.toml                  # every stage, in order
    python train.py --config recipes/nano_a.toml --epochs 2          # train.py flags override the recipe's

A recipe is a list of `[[stage]]` tables, each one command run from `training/`:

    name = "ft_fc"                 # the stage's run directory is {runs}/NAME
    command = "train.py"           # the default; or export.py, tools/quant_forms.py, ...
    task = "ferplus"               # train.py's positional argument
    positional = ["..."]           # the other commands' positional arguments
    folds = [0, 1, ...]            # one run per CK+ fold ({fold}; train.py gets --fold)
    args = { init = "{fer_b_long}/best.pt", lr = 5e-4, ck_folds = "0-7", kd_fer_only = true }
    cpu = { device = "cpu", time_budget = 0, epochs = 51 }   # with --cpu: a GPU stage on a CPU

Argument names are the flags without `--` (`_` for `-`); true is a bare flag, false
leaves it out, a list is joined with commas. In strings, `{NAME}` is the run directory
of stage NAME, `{fold}` the fold, `{runs}` the runs directory (`--runs-dir`, default
runs/recipes/RECIPE) and `{models}` where exports go (`--models-dir`, default
{runs}/models: a recipe never overwrites ../models unless told `--models-dir ../models`).
train.py stages get `--out {runs}/NAME` unless their args name `out`.

Flags after `--config` that are not the recipe's own are train.py flags: they are added
after the recipe's, so they win, in every selected train.py stage. Every command is
checked against its script's own argparse before anything runs (`--dry-run` stops there).
"""

from __future__ import annotations

import argparse
import runpy
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent  # training/


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The recipe options, listed in train.py --help (suppressed defaults: a run's
    meta.json does not list them)."""
    g = ap.add_argument_group("recipes (recipes/*.toml; the positional task and --out then come from the recipe)", argument_default=argparse.SUPPRESS)
    g.add_argument("--config", metavar="RECIPE.toml", help="run the stages of a recipe; other train.py flags override its arguments")
    g.add_argument("--stage", metavar="NAME[,NAME...]", help="only these stages (default: all, in order)")
    g.add_argument("--dry-run", action="store_true", help="print and check the resolved commands, run nothing")
    g.add_argument("--cpu", action="store_true", help="apply each stage's `cpu` table (its GPU run's epochs on a CPU)")
    g.add_argument("--runs-dir", metavar="DIR", help="run directories (default runs/recipes/RECIPE)")
    g.add_argument("--models-dir", metavar="DIR", help="where export stages write (default RUNS/models)")


def _pre_parser() -> argparse.ArgumentParser:
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag in ("--config", "--stage", "--runs-dir", "--models-dir"):
        pre.add_argument(flag)
    pre.add_argument("--dry-run", action="store_true")
    pre.add_argument("--cpu", action="store_true")
    return pre


def flags(args: dict) -> list[str]:
    """{"time_budget": 185, "kd_fer_only": True} -> ["--time-budget", "185", "--kd-fer-only"]."""
    out = []
    for k, v in args.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            out.append(flag)
        elif v is False or v is None:
            continue
        elif isinstance(v, list):
            out += [flag, ",".join(str(x) for x in v)]
        else:
            out += [flag, str(v)]
    return out


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists() and (HERE / path).exists():
        path = HERE / path
    r = tomllib.loads(path.read_text())
    r["_name"] = path.stem
    stages = r.get("stage", [])
    if not stages:
        raise SystemExit(f"{path}: no [[stage]] tables")
    names = [s.get("name") for s in stages]
    if None in names or len(set(names)) != len(names):
        raise SystemExit(f"{path}: every stage needs a unique name (got {names})")
    return r


def resolve(r: dict, only: list[str] | None = None, cpu: bool = False, extra: list[str] = (), runs: str | None = None, models: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(stage name, script, argv) for every run of the selected stages, in recipe order."""
    runs = runs or f"runs/recipes/{r['_name']}"
    subst = {"runs": runs, "models": models or f"{runs}/models"}
    subst.update({s["name"]: f"{runs}/{s['name']}" for s in r["stage"]})
    names = [s["name"] for s in r["stage"]]
    for n in only or []:
        if n not in names:
            raise SystemExit(f"recipe {r['_name']} has no stage {n!r} (stages: {', '.join(names)})")
    out = []
    for s in r["stage"]:
        if only and s["name"] not in only:
            continue
        unknown = set(s) - {"name", "command", "task", "positional", "folds", "args", "cpu", "note", "log", "was"}
        if unknown:
            raise SystemExit(f"recipe {r['_name']}, stage {s['name']}: unknown keys {sorted(unknown)}")
        script = s.get("command", "train.py")
        args = dict(s.get("args", {}))
        if cpu:
            args.update(s.get("cpu", {}))
        is_train = script == "train.py"
        if is_train:
            if "task" not in s:
                raise SystemExit(f"recipe {r['_name']}, stage {s['name']}: a train.py stage needs task = \"ferplus\" or \"ckfold\"")
            args.setdefault("out", "{" + s["name"] + "}")
        for fold in s.get("folds", [None]):
            sub = dict(subst, fold="" if fold is None else fold)

            def fill(v):
                if isinstance(v, str):
                    try:
                        return v.format(**sub)
                    except KeyError as e:
                        raise SystemExit(f"recipe {r['_name']}, stage {s['name']}: unknown placeholder {e} in {v!r}")
                if isinstance(v, list):
                    return [fill(x) for x in v]
                return v

            a = {k: fill(v) for k, v in args.items()}
            if is_train and fold is not None:
                a.setdefault("fold", fold)
            pos = [fill(p) for p in ([s["task"]] if is_train else s.get("positional", []))]
            argv = pos + flags(a) + (list(extra) if is_train else [])
            out.append((s["name"], script, argv))
    return out


class _Parsed(Exception):
    pass


def check(script: str, argv: list[str], ap: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parses argv with the script's own argparse (its main() stopped right there)."""
    if ap is not None:
        return ap.parse_args(argv)
    path = HERE / script
    if not path.exists():
        raise SystemExit(f"no script {path}")
    orig = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise _Parsed(orig(self, argv, namespace))

    argparse.ArgumentParser.parse_args = parse_and_stop
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [str(path)] + argv
    sys.path[:0] = [str(path.parent), str(HERE)]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except _Parsed as p:
        return p.args[0]
    finally:
        argparse.ArgumentParser.parse_args = orig
        sys.argv, sys.path[:] = old_argv, old_path
    raise SystemExit(f"{script} ended without parsing its arguments")


def run(ap: argparse.ArgumentParser, argv: list[str] | None = None) -> bool:
    """train.py's entry: False without --config (train.py carries on); otherwise checks and
    runs the recipe's commands and returns True."""
    add_arguments(ap)
    opts, rest = _pre_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    if not opts.config:
        if opts.stage or opts.dry_run or opts.cpu or opts.runs_dir or opts.models_dir:
            raise SystemExit("--stage, --dry-run, --cpu, --runs-dir and --models-dir need --config RECIPE.toml")
        return False
    r = load(opts.config)
    only = [x for x in opts.stage.split(",") if x] if opts.stage else None
    cmds = resolve(r, only, opts.cpu, rest, opts.runs_dir, opts.models_dir)
    print(f"# recipe {r['_name']}: {r.get('model', '')}".rstrip(), flush=True)
    for name, script, a in cmds:
        print(f"# stage {name}\npython {script} {shlex.join(a)}", flush=True)
        try:
            check(script, a, ap if script == "train.py" else None)
        except SystemExit as e:
            if e.code:
                raise SystemExit(f"recipe {r['_name']}, stage {name}: {script} refuses these arguments" + (f": {e.code}" if isinstance(e.code, str) else " (its error above)"))
    if opts.dry_run:
        print(f"# {len(cmds)} command(s) checked, none run (--dry-run)")
        return True
    for name, script, a in cmds:
        print(f"# running stage {name}: python {script} {shlex.join(a)}", flush=True)
        rc = subprocess.run([sys.executable, script, *a], cwd=HERE).returncode
        if rc:
            raise SystemExit(f"stage {name} failed (exit {rc})")
    return True


if __name__ == "__main__":
    sys.exit("run recipes through train.py: python train.py --config recipes/NAME.toml [--dry-run]")
