import lib, time, sys
bs = [lib.Backend(37100,"main"), lib.Backend(37101,"api"), lib.Backend(37102,"api2")]
for b in bs: b.keepbody = False
time.sleep(float(sys.argv[1]))
