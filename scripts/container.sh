#!/usr/bin/env bash
# Build the hosted demo's image and prove it: the container starts, its HEALTHCHECK reports healthy, the demo
# profile is on (no Train page), and it fills the example photo in a real browser; then it is stopped.
#   bash scripts/container.sh        (podman; ENGINE=docker for Docker; PORT=8765; IMAGE=facefill:demo)
# Where no registry can be reached, the base is built from Debian's own packages (mmdebstrap of bookworm, whose
# Python is 3.11) and imported as a local image. Prints the image's size and build time, the time to healthy,
# the fill's time and the server's peak memory inside the container.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${ENGINE:-podman}
image=${IMAGE:-facefill:demo}
port=${PORT:-8765}
python=${PYTHON:-.venv/bin/python}
name=facefill-check-$$
engine_flags=() run_flags=() build_flags=()
if [[ $engine == podman ]]; then
    # Debian's podman 4.3 here: crun stops on "cgroups in hybrid mode" and on raising RLIMIT_NOFILE/NPROC.
    engine_flags=(--runtime runc --cgroup-manager cgroupfs)
    run_flags=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
    build_flags=(--format docker)  # podman's default OCI format drops the HEALTHCHECK
fi
container() { "$engine" "${engine_flags[@]}" "$@"; }

base=python:3.11-slim
if ! container image inspect "$base" >/dev/null 2>&1 && ! container pull -q "$base" >/dev/null 2>&1; then
    base=localhost/bookworm-python:3.11
    if ! container image inspect "$base" >/dev/null 2>&1; then
        echo "no registry image; building the base from Debian's packages ($base)"
        mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm - \
            | container import --change 'CMD ["python3"]' - "$base" >/dev/null
    fi
fi
# A TLS-inspecting proxy's CA bundle for pip (PIP_CERT, or pip's own setting), mounted into the build, never copied.
cert=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
if [[ $engine == podman && -n $cert && -f $cert ]]; then
    build_flags+=(--volume "$cert:/run/pip-cert.pem:ro" --build-arg PIP_CERT=/run/pip-cert.pem)
fi

start=$(date +%s)
container build --quiet --build-arg BASE="$base" "${build_flags[@]}" -t "$image" . >/dev/null
echo "built $image on $base in $(( $(date +%s) - start )) s: $(( $(container image inspect "$image" --format '{{.Size}}') / 1000000 )) MB"
echo "largest parts of the image:"
container run --rm "${run_flags[@]}" --entrypoint sh "$image" -c \
    'du -sm /opt/venv/lib/python3*/site-packages/* /usr/lib /home/facefill/app 2>/dev/null | sort -rn | head -6' \
    | sed 's/^/  /'

trap 'container rm -f "$name" >/dev/null 2>&1 || true' EXIT
start=$(date +%s)
container run -d --name "$name" --network host -e PORT="$port" "${run_flags[@]}" "$image" >/dev/null
healthy() {  # podman runs a HEALTHCHECK on request (its timer needs systemd); Docker reports its own
    if [[ $engine == podman ]]; then container healthcheck run "$name" >/dev/null 2>&1
    else [[ $(container inspect -f '{{.State.Health.Status}}' "$name") == healthy ]]; fi
}
until healthy; do
    if [[ $(container inspect -f '{{.State.Running}}' "$name") != true ]] || (( $(date +%s) - start > 180 )); then
        container logs "$name" | tail -20
        echo "error: the container did not become healthy" >&2
        exit 1
    fi
    sleep 1
done
echo "healthy $(( $(date +%s) - start )) s after start"
"$python" scripts/check_demo.py "http://127.0.0.1:$port"
echo "server peak memory in the container: $(container exec "$name" sh -c 'grep VmHWM /proc/1/status' | awk '{printf "%d MiB", $2 / 1024}')"
container stop -t 10 "$name" >/dev/null
echo "stopped"
