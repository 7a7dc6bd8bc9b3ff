export PATH=/usr/sbin:/usr/bin:/sbin:/bin; sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) '
