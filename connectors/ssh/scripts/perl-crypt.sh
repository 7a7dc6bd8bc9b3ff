export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec perl -e 'my $p = <STDIN>; my $h = <STDIN>; chomp($p); chomp($h); my $c = crypt($p, $h); print((defined($c) && $c eq $h) ? "match\n" : "nomatch\n")'
