IFS= read -r l || exit 97; if [ "$l" != '--handover-stdin--' ]; then l=; IFS= read -r l || exit 97; [ "$l" = '--handover-stdin--' ] || exit 98; fi; l=; exec "$@"
