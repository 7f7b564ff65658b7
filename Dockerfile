# The desktop the model drives (Xvfb, mutter, tint2, Firefox), seen through VNC
# (5900) and noVNC (6080), with the chat app (8501) and a combined page (8080).
FROM docker.io/library/debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1

# Debian's packages only: no git clones, the same on every architecture.
COPY image/provision.sh image/firefox-prefs.js /opt/provision/image/
RUN /opt/provision/image/provision.sh --system

ENV HOME=/home/computeruse
RUN useradd -m -u 1000 -s /bin/bash -d /home/computeruse computeruse \
    && echo "computeruse ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/computeruse \
    && chmod 0440 /etc/sudoers.d/computeruse

# An empty default anywhere else; CI passes the host's CA bundle for pip.
ARG PIP_CERT=
# The locked versions (with hashes) and a pinned pip: see requirements.lock.
COPY pyproject.toml README.md requirements.lock /opt/app/
COPY token_manager /opt/app/token_manager
COPY computer_use_demo /opt/app/computer_use_demo
COPY image/provision.sh /opt/app/image/provision.sh
RUN PIP_CERT="$PIP_CERT" /opt/app/image/provision.sh --app

COPY --chown=1000:1000 image/ $HOME/image/
COPY --chown=1000:1000 computer_use_demo/ $HOME/computer_use_demo/
COPY --chown=1000:1000 image/.streamlit/ $HOME/.streamlit/
# The saved key and conversations: made here so that a named volume mounted on
# it (compose.yaml) starts out owned by the user, not by root.
RUN ln -s "$HOME/image/start_all.sh" "$HOME/start_all.sh" \
    && install -d -o 1000 -g 1000 -m 0700 "$HOME/.anthropic"

USER 1000:1000
WORKDIR $HOME

ARG DISPLAY_NUM=1
ARG HEIGHT=768
ARG WIDTH=1024
ENV DISPLAY_NUM=$DISPLAY_NUM \
    HEIGHT=$HEIGHT \
    WIDTH=$WIDTH \
    APP_ROOT=$HOME \
    PYTHONUTF8=1 \
    PYTHON=/opt/venv/bin/python \
    PATH=/opt/venv/bin:$PATH

EXPOSE 5900 6080 8080 8501
ENTRYPOINT ["/home/computeruse/image/entrypoint.sh"]
