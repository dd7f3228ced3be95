# The end of every run that did something: each failed job and each excluded case in one
# line, printed last and written to logs/failures.txt (radsnake.core.run_end).
from radsnake.core import run_end  # noqa: E402


def case_files(case):
    """'; image X, mask Y' for an excluded case's line."""
    spec = case_spec_of(case)
    images = ", ".join(os.path.abspath(entry["path"]) for entry in spec["images"] if entry["path"])
    mask = os.path.abspath(spec["mask"]) if spec["mask"] else "none"
    return f"; image {images}, mask {mask}"


def report_run_end():
    scheduler = getattr(workflow, "scheduler", None)
    failed = [
        run_end.FailedJob(
            job.rule.name,
            tuple(sorted((key, str(value)) for key, value in (job.wildcards_dict or {}).items())),
            tuple(str(log) for log in job.log),
        )
        for job in (scheduler.failed if scheduler is not None else ())
    ]
    qc_rows = {case: f"results/qc/cases/{case}.csv" for case in EXTRACT_CASES}
    run_end.report(failed, qc_rows, {} if BRING_YOUR_OWN_FEATURES else PENDING, case_files)


onsuccess:
    report_run_end()


onerror:
    report_run_end()
