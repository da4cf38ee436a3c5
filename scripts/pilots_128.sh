#!/usr/bin/env bash
# Short pilot runs that chose how the 128 px model is trained (weights/MODEL_CARD.md has the tables). Each run
# starts from the same place and is measured by core.realism on the same z against real UTKFace faces.
#   bash scripts/pilots_128.sh UTK_128 BOTH_128 RUNS [STEPS] [PILOT...]
# UTK_128: UTKFace aligned at 128 (core.align --size 128); BOTH_128: UTKFace and CelebA-10k aligned at 128.
# PILOT: names from the two rounds below (default: all). Round 1 chose the start (grown from the 64 px weights or
# from scratch), the fade-in, float32 or bfloat16, and the data; round 2 varies the winner, grow-nofade-bf16.
# The batch-size pilots see as many faces as the others (twice the steps at half the batch, and so on).
# Runs resume where they stopped (--resume), so the script can be killed and started again.
set -euo pipefail
cd "$(dirname "$0")/.."
utk=$1 both=$2 runs=$3 steps=${4:-300}
shift $(( $# < 4 ? $# : 4 ))
python=${PYTHON:-.venv/bin/python}
grow=(--init-from weights-64 --image-size 128)
bf16=(--precision mixed_bfloat16)

# NAME|DATA STEPS ARGS..., in the order the rounds ran them (the default list)
pilots_known=(
    "grow-fade-bf16|$utk $steps ${grow[*]} --fade-steps $((steps / 2)) ${bf16[*]}"
    "grow-fade-fp32|$utk $steps ${grow[*]} --fade-steps $((steps / 2))"
    "scratch-bf16|$utk $steps --image-size 128 --gf 32 --df 32 ${bf16[*]}"
    "grow-nofade-bf16|$utk $steps ${grow[*]} ${bf16[*]}"
    "grow-fade-bf16-celeba|$both $steps ${grow[*]} --fade-steps $((steps / 2)) ${bf16[*]}"
    "fade-short|$utk $steps ${grow[*]} --fade-steps $((steps / 6)) ${bf16[*]}"
    "batch-32|$utk $((steps * 2)) ${grow[*]} ${bf16[*]} --batch-size 32"
    "batch-128|$utk $((steps / 2)) ${grow[*]} ${bf16[*]} --batch-size 128"
    "lr-1e-4|$utk $steps ${grow[*]} ${bf16[*]} --learning-rate 1e-4"
    "d-lr-1e-4|$utk $steps ${grow[*]} ${bf16[*]} --d-learning-rate 1e-4"
    "label-smoothing|$utk $steps ${grow[*]} ${bf16[*]} --label-smoothing 0.1"
    "spectral-norm|$utk $steps ${grow[*]} ${bf16[*]} --spectral-norm"
)

pilot_args() {  # NAME -> DATA STEPS ARGS...
    local known
    for known in "${pilots_known[@]}"; do
        [[ ${known%%|*} == "$1" ]] && { echo "${known#*|}"; return; }
    done
    echo "unknown pilot: $1" >&2; return 1
}

pilot() {  # NAME
    local name=$1 data n rest
    read -r data n rest <<< "$(pilot_args "$name")"
    local resume=(); [[ -f "$runs/$name/checkpoint.weights.h5" ]] && resume=(--resume)
    # shellcheck disable=SC2086  # the pilot's own arguments are words
    "$python" -m core.train --data "$data" --out "$runs/$name" --steps "$n" --log-every 25 --sample-every 50 \
        --checkpoint-every 50 "${resume[@]}" $rest > "$runs/$name.log" 2>&1
}

pilots=("$@")
[[ ${#pilots[@]} -gt 0 ]] || for known in "${pilots_known[@]}"; do pilots+=("${known%%|*}"); done
for name in "${pilots[@]}"; do pilot_args "$name" > /dev/null; done  # a misspelt name stops it before any training
mkdir -p "$runs"
for name in "${pilots[@]}"; do pilot "$name"; done
models=(); for name in "${pilots[@]}"; do models+=("$runs/$name/model"); done
"$python" -m core.realism --weights "${models[@]}" --real "$utk" --samples 500 --grid "$runs/pilots.png" \
    | tee "$runs/pilots.txt"
