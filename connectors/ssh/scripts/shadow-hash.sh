export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
getent shadow "$1" | cut -d: -f2
