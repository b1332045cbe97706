# Image for the detector service and the workbench (see compose.yaml).
FROM python:3.11-slim
WORKDIR /srv/soc-workbench
COPY . .
# Editable, so the JSON assets beside the package (index_templates/, ...) are found.
RUN pip install --no-cache-dir -e . && useradd --system socwb
USER socwb
