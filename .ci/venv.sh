# Shared by ./leadvane and ./run-tests: create .venv when missing, (re)install a requirements file when it changed.
# usage: ensure_venv requirements.txt|requirements-dev.txt

ensure_venv() {
    local req="$1" py stamp want
    if [ ! -x .venv/bin/python ]; then
        py="$(command -v python3.11 || command -v python3 || true)"
        if [ -z "$py" ]; then
            echo "leadvane: python3.11 (or python3) is required" >&2
            return 1
        fi
        echo "creating .venv with $py" >&2
        "$py" -m venv .venv
    fi
    stamp=".venv/.installed-$(basename "$req" .txt)"
    # The hash covers requirements.txt too, which requirements-dev.txt includes.
    want="$(cat "$req" requirements.txt | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing $req into .venv (the first time takes a few minutes; pip shows each package)" >&2
        # Not -q: a first start should show progress, not minutes of silence.
        .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on -r "$req" \
            | { grep -v '^Requirement already satisfied' >&2 || true; }
        echo "$want" >"$stamp"
    fi
}
