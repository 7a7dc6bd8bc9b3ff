id -u "$1"; id -g "$1"
