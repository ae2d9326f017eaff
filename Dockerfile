# motion-inversion for a Docker Space or a local GPU box:
#   docker build -t motion-inversion . && docker run --gpus all -p 7860:7860 \
#       -v motion-library:/home/user/.local/share/motion-inversion motion-inversion
# The default `pip install torch` on Linux is the CUDA build; the app falls back to the CPU when no GPU is visible.
FROM python:3.11-slim

# ffmpeg: Gradio's video component probes and converts uploads with it
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*

# Spaces run containers as user 1000
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt

# the code, the toy model and the sample clips; app.py imports motion_inversion from here
COPY --chown=user . .

EXPOSE 7860
CMD ["python", "app.py"]
