"""`bench mia`: the membership-inference track (score, tune, held-out manifest, floors, report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cards import dataset_card, model_card
from bench.cli.args import add_results_arguments, results_from_args, seed_int
from bench.data.celeba import read_index
from bench.errors import BenchError
from bench.membership import store, tuning
from bench.membership.cards import method_card, method_names, parse_value
from bench.membership.heldout import write_heldout
from bench.membership.score import ranked_models, score_model
from bench.utils.paths import data_root, reports_dir


def cmd_run(args: argparse.Namespace) -> int:
    names = method_names() if args.method == "all" else args.method.split(",")
    methods = [(card, card.params(dict(_sets(card, args.set)))) for card in map(method_card, names)]
    models = [
        model_card(m) for m in (ranked_models() if args.model == "all" else args.model.split(","))
    ]
    root = data_root(args.data_root)
    out = results_from_args(args)
    for model in models:  # model by model, so an interrupted pass leaves whole models
        for mcard, params in methods:
            name = mcard.name
            record = score_model(mcard, params, model, root, args.seed)
            path = store.run_path(out, name, model.name)
            store.write(path, record)
            m = record["metrics"]
            tpr = m["tpr@0.01"]["mean"] if m["tpr@0.01"] else float("nan")
            print(
                f"{name} on {model.name}: AUC {m['auc']['mean']:.3f} "
                f"[{m['auc']['lo']:.3f}, {m['auc']['hi']:.3f}], TPR@1%FPR {tpr:.3f}, "
                f"{record['cost']['unet_evaluations']:,} UNet evaluations, "
                f"{record['wall_seconds']:.0f} s -> {path}"
            )
    return 0


def _sets(mcard, items: list[str] | None):
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"--set takes key=value, got {item!r}")
        yield key.strip(), parse_value(mcard, key.strip(), text.strip())


def cmd_tune(args: argparse.Namespace) -> int:
    out = results_from_args(args)
    names = method_names() if args.method == "all" else [args.method]
    if args.rejudge:
        return _rejudge(names, out)
    root = data_root(args.data_root)
    model = model_card(args.model)
    if model.role != "tuning":
        raise BenchError(f"{model.name} is a ranked model; defaults are tuned on a tuning model")
    for name in names:
        mcard = method_card(name)
        rows = tuning.sweep(mcard, model, root)
        incumbent = mcard.defaults[mcard.sweep_param]
        value, why = tuning.choose(rows, incumbent)
        result = {
            "method": name,
            "method_version": mcard.version,
            "model": model.name,
            "param": mcard.sweep_param,
            "card_value": incumbent,
            "source": mcard.sources[mcard.sweep_param],
            "seeds": list(tuning.TUNING_SEEDS),
            "rows": rows,
            "chosen": value,
            "why": why,
        }
        path = store.tuning_path(out, name)
        store.write(path, result)
        print(f"{name}: {mcard.sweep_param} = {value} ({why}) -> {path}")
    return 0


def _rejudge(names: list[str], out: Path) -> int:
    """The current rule applied to committed sweep rows (no model is run): the card's value at
    the time of the sweep is the one to beat; an earlier pick stays beside it (``first_pick``)."""
    for name in names:
        path = store.tuning_path(out, name)
        if not path.is_file():
            raise BenchError(f"no tuning sweep of {name} at {path}; run bench mia tune first")
        t = store.read_tuning(path)
        value, why = tuning.choose(t["rows"], t["card_value"])
        if value != t["chosen"] or why != t["why"]:
            t.setdefault("first_pick", {"chosen": t["chosen"], "why": t["why"]})
            t["chosen"], t["why"] = value, why
            store.write(path, t)
        print(f"{name}: {t['param']} = {value} ({why}) -> {path}")
    return 0


def cmd_rerank(args: argparse.Namespace) -> int:
    from bench.membership import rerank
    from bench.runner.cell import default_budget

    model = model_card(args.model)
    methods = [(card, card.params()) for card in map(method_card, args.method.split(","))]
    budget = args.budget or default_budget(dataset_card(model.dataset), model.profile)
    root = data_root(args.data_root)
    result = rerank.rerank_model(args.attack, model, methods, reports_dir(), root, budget)
    path = store.rerank_path(results_from_args(args), model.name)
    store.write(path, result)
    for run in result["runs"]:
        for edge, at in run["edges"].items():
            reranked = "; ".join(
                f"{m} {r['candidates_reranked']}, all outputs {r['all_outputs']['precision']}"
                for m, r in at["methods"].items()
            )
            print(
                f"seed {run['seed']}, {edge}: {run['candidates']} candidates, precision at k "
                f"in the attack's order {at['attack_order']['precision']}; by {reranked}"
            )
    print(f"-> {path}")
    return 0


def cmd_heldout(args: argparse.Namespace) -> int:
    card = dataset_card("celeba")
    n, digest = write_heldout(card, read_index(data_root(args.data_root)))
    print(f"wrote {n} held-out images (sha256 {digest[:12]}…)")
    return 0


def cmd_floors(args: argparse.Namespace) -> int:
    from bench.membership import floors

    result = floors.measure(data_root(args.data_root), reports_dir())
    store.write(store.floors_path(reports_dir()), result)
    for row in result["floors"]:
        caught = all(m["caught"] for m in row["mutations"].values())
        print(
            f"{row['method']} on {row['model']}: floor AUC {row['floor']:.3f}; "
            f"mutations {'caught' if caught else 'NOT all caught'}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.membership import report

    root = Path(args.results).expanduser() if args.results else reports_dir()
    print(f"wrote {report.write_report(root)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mia", help="membership inference on the zoo (scores, tuning, report)")
    verbs = p.add_subparsers(dest="mia_command", required=True)

    r = verbs.add_parser("run", help="score one method (or all) on one model (or all ranked)")
    r.add_argument("--method", required=True, help="membership card names (a,b,…), or all")
    r.add_argument("--model", required=True, help="zoo model card names (a,b,…), or all (ranked)")
    r.add_argument("--seed", type=seed_int, default=0, help="the scoring seed (default 0)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    r.add_argument("--data-root", default=None, help="CelebA root (default: BENCH_DATA)")
    add_results_arguments(r)
    r.set_defaults(func=cmd_run)

    t = verbs.add_parser("tune", help="sweep a method's parameter on the tuning model")
    t.add_argument("--method", required=True, help="a membership card name, or all")
    t.add_argument("--model", default="celeba-192-tune-cpu", help="the tuning model")
    t.add_argument("--data-root", default=None, help="CelebA root (default: BENCH_DATA)")
    t.add_argument(
        "--rejudge",
        action="store_true",
        help="apply the current selection rule to the committed sweep rows (runs no model)",
    )
    add_results_arguments(t)
    t.set_defaults(func=cmd_tune)

    rr = verbs.add_parser(
        "rerank", help="rank a filtering attack's candidates and outputs by membership scores"
    )
    rr.add_argument("--attack", required=True, help="a filtering attack (carlini) with records")
    rr.add_argument("--model", required=True, help="a zoo model with committed records of it")
    rr.add_argument(
        "--method", default="loss,sima", help="membership card names (default loss,sima)"
    )
    rr.add_argument("--budget", type=int, default=None, help="N_G of the records (default: shared)")
    rr.add_argument("--data-root", default=None, help="CelebA root (default: BENCH_DATA)")
    add_results_arguments(rr)
    rr.set_defaults(func=cmd_rerank)

    h = verbs.add_parser("heldout", help="rewrite the track's held-out manifest from a root")
    h.add_argument("--data-root", default=None, help="CelebA root (default: BENCH_DATA)")
    h.set_defaults(func=cmd_heldout)

    f = verbs.add_parser("floors", help="measure CI's floors and check the mutations")
    f.add_argument("--data-root", default=None, help="CelebA root (default: BENCH_DATA)")
    f.set_defaults(func=cmd_floors)

    rep = verbs.add_parser("report", help="write membership.md from the records")
    rep.add_argument("--results", default=None, help="folder of records (default: reports/)")
    rep.set_defaults(func=cmd_report)
