# FaceFill as a hosted demo: docker build -t facefill . && docker run -p 8501:8501 facefill
# scripts/container.sh builds it, runs it and checks it fills a photo. BASE: any Debian-based image with
# Python 3.11 (the default, or one built from Debian's packages where no registry can be reached).
ARG BASE=python:3.11-slim
FROM ${BASE}

# OpenCV and MediaPipe need these shared libraries even headless (MediaPipe links libEGL and libGLESv2).
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libegl1 libgles2 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*

# Behind a TLS-inspecting proxy, pip needs its CA bundle: pass a path mounted into the build (never copied in).
ARG PIP_CERT
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir --disable-pip-version-check --no-compile -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

RUN useradd --create-home --uid 1000 facefill
WORKDIR /home/facefill/app
COPY --chown=facefill:facefill . .
USER facefill

# The demo profile: no training, tight limits (core/settings.py reads these).
ENV FACEFILL_HOSTED=1 PORT=8501
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/_stcore/health', timeout=4)"
CMD exec streamlit run streamlit_app.py --server.port "$PORT" --server.address 0.0.0.0
