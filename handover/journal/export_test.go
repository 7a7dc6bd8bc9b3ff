package journal

// WrapFile lets a test put a fault injector around a journal's file.
func WrapFile(j *Journal, wrap func(f file) file) { j.f = wrap(j.f) }

// File is the journal's file interface, for the tests' fault injectors.
type File = file
