# The desktop the model drives (Xvfb, mutter, tint2, Firefox), seen through VNC
# (5900) and noVNC (6080), with the chat app (8501) and a combined page (8080).
FROM docker.io/library/debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1

# Debian's packages only: no git clones, the same on every architecture.
COPY image/provision.sh /opt/provision/image/provision.sh
RUN /opt/provision/image/provision.sh --system

# The tools' account: the desktop, every tool and every app the model starts run
# as computeruse, with the quickstart's home; it has no sudo (the quickstart's
# does), so it can read neither the key nor the app's process (root).
ENV HOME=/home/computeruse
RUN useradd -m -u 1000 -s /bin/bash -d /home/computeruse computeruse

# An empty default anywhere else; CI passes the host's CA bundle for pip.
ARG PIP_CERT=
# The locked versions (with hashes) and a pinned pip: see requirements.lock.
COPY pyproject.toml README.md requirements.lock /opt/app/
COPY token_manager /opt/app/token_manager
COPY computer_use_demo /opt/app/computer_use_demo
COPY image/provision.sh /opt/app/image/provision.sh
RUN PIP_CERT="$PIP_CERT" /opt/app/image/provision.sh --app

# What root runs lives where the tools' account cannot change it: /opt/app
# (root's, read-only to others). The quickstart's home layout stays, as copies
# the app never runs.
COPY image/ /opt/app/image/
COPY image/.streamlit/ /opt/app/.streamlit/
COPY image/ $HOME/image/
COPY computer_use_demo/ $HOME/computer_use_demo/
# The saved key and conversations, where the quickstart keeps them (its
# `-v $HOME/.anthropic:/home/computeruse/.anthropic` still works): root's, 0700;
# the entrypoint makes a mounted one so too.
RUN ln -s "$HOME/image/start_all.sh" "$HOME/start_all.sh" \
    && install -d -o 0 -g 0 -m 0700 "$HOME/.anthropic"

# The entrypoint runs as root: it starts the desktop as computeruse and keeps
# only the app (Streamlit, and the CLI run by `docker exec`) as root.
WORKDIR $HOME

ARG DISPLAY_NUM=1
ARG HEIGHT=768
ARG WIDTH=1024
ENV DISPLAY_NUM=$DISPLAY_NUM \
    HEIGHT=$HEIGHT \
    WIDTH=$WIDTH \
    APP_ROOT=/opt/app \
    ANTHROPIC_CONFIG_DIR=/home/computeruse/.anthropic \
    COMPUTER_USE_TOOLS_USER=computeruse \
    PYTHONUTF8=1 \
    PYTHON=/opt/venv/bin/python \
    PATH=/opt/venv/bin:$PATH

EXPOSE 5900 6080 8080 8501
ENTRYPOINT ["/opt/app/image/entrypoint.sh"]
