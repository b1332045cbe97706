# Image for the detector service and the workbench (see compose.yaml).
FROM python:3.11-slim
WORKDIR /srv/soc-workbench
COPY . .
RUN pip install --no-cache-dir . && useradd --system socwb
USER socwb
