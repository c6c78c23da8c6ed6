# Jupyter with the tslab (TypeScript) kernel for routerlab notebooks. Build context: the repository root.
# The checkout is mounted at /work/routerlab by docker-compose.yml; this image brings Node, the Python
# environment (python/requirements.txt, which pins JupyterLab) and registers the kernel.
FROM node:20-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
 && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/routerlab-venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true
ENV PATH="$VIRTUAL_ENV/bin:$PATH" \
    ROUTERLAB_PYTHON=/opt/routerlab-venv/bin/python \
    ROUTERLAB_VENV=/opt/routerlab-venv

COPY python/requirements.txt /tmp/requirements.txt
RUN python3 -m venv "$VIRTUAL_ENV" \
 && pip install -r /tmp/requirements.txt

WORKDIR /work/routerlab
# Node dependencies baked into the image (the compose file keeps them in a volume over the mounted checkout).
COPY package.json package-lock.json .npmrc ./
COPY scripts/ ./scripts/
RUN npm ci --no-audit --no-fund \
 && ./node_modules/.bin/tslab install --python="$VIRTUAL_ENV/bin/python" --prefix="$VIRTUAL_ENV" \
      --binary=/work/routerlab/node_modules/.bin/tslab \
 && jupyter kernelspec list

EXPOSE 8888
# Builds routerlab (dist/ is what notebooks import), then serves JupyterLab on the notebooks folder.
CMD ["bash", "-c", "npx tsc -p tsconfig.json || true; exec jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root --ServerApp.root_dir=/work/routerlab --ServerApp.token=\"${JUPYTER_TOKEN}\""]
