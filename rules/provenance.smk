# results/provenance.json: what made the results (radsnake.io.provenance, docs/reproducibility.md).
# Its inputs are every other result of the study, so it is written last and again whenever
# a run updates a result; its params are the resolved config, so a config edit rewrites it.
# The command line is not a param (a new command line alone reruns nothing): the Snakemake
# process puts its sys.argv in the environment here, at parse time, and the job reads it.
if workflow.is_main_process:
    os.environ[COMMAND_LINE_VARIABLE] = json.dumps(sys.argv)


rule provenance:
    input:
        unpack(get_provenance_inputs),
        results=get_study_results,
    output:
        record=report(
            PROVENANCE_JSON,
            caption="../docs/report/provenance.rst",
            category="9. Provenance",
            labels={"record": "provenance.json (machine-readable)"},
        ),
        page=report(
            "results/provenance.html",
            caption="../docs/report/provenance.rst",
            category="9. Provenance",
            labels={"record": "provenance (table)"},
        ),
    log:
        "logs/provenance.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        config=json.dumps(config, sort_keys=True, default=str),
        workflow_dir=workflow.basedir,
        lock=os.path.join(workflow.basedir, "envs", "requirements.lock"),
        deployment="conda" if conda_env_files() else "the Python environment running Snakemake",
        conda_envs=conda_env_files(),
    script:
        "../scripts/write_provenance.py"
