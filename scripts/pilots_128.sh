#!/usr/bin/env bash
# Short pilot runs that chose how the 128 px model is trained (weights/MODEL_CARD.md has the table):
# grown from the 64 px weights or from scratch, with or without a fade-in, float32 or bfloat16, with or
# without CelebA. Each run is measured by core.realism on the same z against real UTKFace faces.
#   bash scripts/pilots_128.sh UTK_128 BOTH_128 RUNS [STEPS]
# UTK_128: UTKFace aligned at 128 (core.align --size 128); BOTH_128: UTKFace and CelebA-10k aligned at 128.
# Runs resume where they stopped (--resume), so the script can be killed and started again.
set -euo pipefail
cd "$(dirname "$0")/.."
utk=$1 both=$2 runs=$3 steps=${4:-300}
python=${PYTHON:-.venv/bin/python}
common=(--steps "$steps" --log-every 25 --sample-every 100 --checkpoint-every 50)

pilot() {  # NAME DATA ARGS...
    local name=$1 data=$2; shift 2
    local resume=(); [[ -f "$runs/$name/checkpoint.weights.h5" ]] && resume=(--resume)
    "$python" -m core.train --data "$data" --out "$runs/$name" "${common[@]}" "${resume[@]}" "$@" \
        > "$runs/$name.log" 2>&1
}

mkdir -p "$runs"
pilot grow-fade-bf16 "$utk" --init-from weights-64 --image-size 128 --fade-steps $((steps / 2)) --precision mixed_bfloat16
pilot grow-fade-fp32 "$utk" --init-from weights-64 --image-size 128 --fade-steps $((steps / 2))
pilot scratch-bf16 "$utk" --image-size 128 --gf 32 --df 32 --precision mixed_bfloat16
pilot grow-nofade-bf16 "$utk" --init-from weights-64 --image-size 128 --precision mixed_bfloat16
pilot grow-fade-bf16-celeba "$both" --init-from weights-64 --image-size 128 --fade-steps $((steps / 2)) \
    --precision mixed_bfloat16
"$python" -m core.realism --weights "$runs"/{grow-fade-bf16,grow-fade-fp32,scratch-bf16,grow-nofade-bf16,grow-fade-bf16-celeba}/model \
    --real "$utk" --samples 500 --grid "$runs/pilots.png" | tee "$runs/pilots.txt"
