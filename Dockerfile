# syntax=docker/dockerfile:1
# streamscribe server image (CPU by default).
#
#   docker build -t streamscribe .
#   docker run --rm -p 8000:8000 -e STREAMSCRIBE_API_KEY=secret streamscribe
#
# CUDA variant: the PyTorch CUDA wheels bundle the CUDA runtime, so the same slim base works;
# the host needs an NVIDIA driver and the NVIDIA container toolkit:
#
#   docker build -t streamscribe:cu126 \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 .
#   docker run --rm --gpus all -p 8000:8000 streamscribe:cu126 \
#       streamscribe serve --host 0.0.0.0 --device cuda --dtype bfloat16
#
# Another model: mount it and pass --model /models/NAME (or a Hugging Face repo id, with
# -e HF_TOKEN=... if it is gated).

ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# torch is installed first, from its own index, so `pip install .` below finds it satisfied.
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --index-url "${TORCH_INDEX_URL}" ${TORCH_SPEC}

WORKDIR /app
# Dependencies change less often than code: install them from pyproject alone first.
COPY pyproject.toml README.md LICENSE ./
RUN python - <<'PY'
import subprocess, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
deps = [d for d in deps if not d.replace(" ", "").startswith("torch")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *deps])
PY

COPY streamscribe_cli.py ./
COPY model ./model
COPY streaming ./streaming
COPY server ./server
COPY clients ./clients
COPY eval ./eval
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 streamscribe

USER streamscribe
# The embedded default model (model/default/) must be in the installed package.
RUN python -c "from model import DEFAULT_MODEL_DIR as d, default_model_dir as f; assert f() == d"

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"

# exec form: the server is PID 1 and receives SIGTERM itself (drains open sessions on stop;
# give it time with `docker stop -t 40`).
CMD ["streamscribe", "serve", "--host", "0.0.0.0", "--port", "8000"]
