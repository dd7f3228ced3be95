# --- Code is an input (docs/design.md#reruns-when-code-changes): every rule that runs a
# script gets a `code` param, the SHA-256 of the bytes of that script and of every
# radsnake module it imports, transitively (radsnake.core.code_closure). Snakemake's params
# trigger reruns a job whose param changed, so editing a function reruns the rules whose
# code reaches it, and everything downstream, and nothing else. Included last: it reads
# the rules defined above. Each closure is hashed once per process; what each file imports
# is kept in the study's .snakemake/ by the file's SHA-256, so planning re-parses only
# edited files (about 0.1 s for the whole package, 1.3 s the first time).
from radsnake.core.code_closure import CodeBase  # noqa: E402

RADSNAKE_CODE = CodeBase(
    os.path.join(workflow.basedir, "scripts"), store=os.path.join(STUDY_DIR, ".snakemake", "radsnake-code.json")
)


# The script a rule runs: its script directive, or the .py path a shell rule names in a
# string param (alone, or in a command line such as the case job's settings).
for _rule in workflow.rules:
    if _rule.script:
        _scripts = [_rule.basedir.join(_rule.script).get_path_or_uri(secret_free=True)]
    else:
        _scripts = [
            word
            for value in _rule.params
            if isinstance(value, str) and ".py" in value
            for word in shlex.split(value)
            if word.endswith(".py") and os.path.isfile(word)
        ]
    if _scripts and "code" in _rule.params.keys():
        stop(f"radsnake: rule {_rule.name} has a param named code, which rules/code.smk sets: rename it")
    if _scripts:
        _rule.set_params(code=RADSNAKE_CODE.code_hash(_scripts))
RADSNAKE_CODE.save()

# Snakemake inspects an input or params function's signature at every call (once per
# job and function): record each once (radsnake.core.snakemake_fixes.remember_signatures).
from radsnake.core.snakemake_fixes import remember_signatures  # noqa: E402

remember_signatures(workflow.rules)
