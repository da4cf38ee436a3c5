# FaceFill as a hosted demo: docker build -t facefill . && docker run -p 8501:8501 facefill
FROM python:3.11-slim

# OpenCV and MediaPipe need these shared libraries even headless.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 facefill
WORKDIR /home/facefill/app
COPY --chown=facefill:facefill requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=facefill:facefill . .
USER facefill

# The demo profile: no training, tight limits (core/settings.py reads these).
ENV FACEFILL_HOSTED=1 PORT=8501
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/_stcore/health', timeout=4)"
CMD streamlit run streamlit_app.py --server.port "$PORT" --server.address 0.0.0.0
