# tinykd on Debian 13 (trixie: QEMU 10 with the B-L475E-IOT01A board in main), for machines that
# are not Debian 12 or 13. The steps are the README's set-up on a fresh system; the default command
# is the test suite (what CI runs). scripts/check-debian.sh runs these same steps in debootstrap
# chroots of Debian 12 and 13, so keep to the instructions it reads (ENV KEY=value, WORKDIR,
# COPY . ., RUN, CMD).
#
#   docker build -t tinykd .
#   docker run --rm tinykd                       # the test suite
#   docker run --rm -it tinykd bash              # a shell in the checkout; then . .venv/bin/activate
FROM debian:trixie-slim
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# What a user has before the README's first command: git (to clone), make, and certificates for
# https downloads. Python, the Arm toolchain and QEMU come from `make setup` itself.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git make
WORKDIR /tinykd
COPY . .
RUN make setup
CMD ["make", "test"]
